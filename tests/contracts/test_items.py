"""ElysiumItems on a real EVM: roles and their refusals, mint, burn, transfers, unique ids,
metadata URIs, royalties without the rights registry, and pause."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eth_utils.crypto import keccak

from tests.contracts.evm import BASE_URI, Evm

ADMIN_ROLE = b"\x00" * 32
MINTER_ROLE = keccak(text="MINTER_ROLE")
PAUSER_ROLE = keccak(text="PAUSER_ROLE")
SWORD, POTION = 7, 8
UNIQUE = (1 << 255) | 0xABCDEF


def test_roles_at_deployment(evm: Evm) -> None:
    f = evm.items.functions
    assert f.hasRole(ADMIN_ROLE, evm.admin).call()
    assert f.hasRole(PAUSER_ROLE, evm.admin).call()
    assert f.hasRole(MINTER_ROLE, evm.minter).call()
    assert not f.hasRole(MINTER_ROLE, evm.admin).call()
    assert f.rights().call() == evm.rights.address
    assert f.MINTER_ROLE().call() == MINTER_ROLE and f.PAUSER_ROLE().call() == PAUSER_ROLE


def test_only_the_minter_mints(evm: Evm) -> None:
    err = evm.reverts(evm.items.functions.mint(evm.alice, SWORD, 1, b""), evm.alice)
    assert err.error == "AccessControlUnauthorizedAccount"
    assert err.message == f"{evm.alice} does not hold MINTER_ROLE"
    assert err.arguments == {"account": evm.alice, "neededRole": MINTER_ROLE}
    err = evm.reverts(evm.items.functions.mintBatch(evm.alice, [SWORD], [1], b""), evm.admin)
    assert err.message == f"{evm.admin} does not hold MINTER_ROLE"
    assert evm.items.functions.balanceOf(evm.alice, SWORD).call() == 0


def test_the_admin_grants_and_revokes_roles_and_nobody_else_does(evm: Evm) -> None:
    f = evm.items.functions
    err = evm.reverts(f.grantRole(MINTER_ROLE, evm.bob), evm.minter)
    assert err.message == f"{evm.minter} does not hold DEFAULT_ADMIN_ROLE"
    evm.send(f.grantRole(MINTER_ROLE, evm.bob), evm.admin)
    evm.send(f.mint(evm.alice, SWORD, 2, b""), evm.bob)
    evm.send(f.revokeRole(MINTER_ROLE, evm.bob), evm.admin)
    assert evm.reverts(f.mint(evm.alice, SWORD, 1, b""), evm.bob).error == "AccessControlUnauthorizedAccount"
    assert f.balanceOf(evm.alice, SWORD).call() == 2


def test_admin_only_settings_are_refused_to_others(evm: Evm) -> None:
    f = evm.items.functions
    for call in (f.setBaseURI("x"), f.setRights(evm.bob), f.setTokenRoyalty(SWORD, evm.bob, 100),
                 f.resetTokenRoyalty(SWORD), f.setDefaultRoyalty(evm.bob, 100)):
        err = evm.reverts(call, evm.minter)
        assert err.message == f"{evm.minter} does not hold DEFAULT_ADMIN_ROLE"
    assert evm.reverts(f.setTokenURI(SWORD, "x"), evm.admin).message == f"{evm.admin} does not hold MINTER_ROLE"
    assert evm.reverts(f.pause(), evm.minter).message == f"{evm.minter} does not hold PAUSER_ROLE"


def test_mint_and_batch_mint_emit_transfers_and_count_supply(evm: Evm) -> None:
    f = evm.items.functions
    receipt = evm.send(f.mint(evm.alice, SWORD, 3, b""), evm.minter)
    (single,) = evm.items.events.TransferSingle().process_receipt(receipt)
    assert single["args"]["to"] == evm.alice and single["args"]["id"] == SWORD and single["args"]["value"] == 3
    receipt = evm.send(f.mintBatch(evm.bob, [SWORD, POTION], [1, 10], b""), evm.minter)
    (batch,) = evm.items.events.TransferBatch().process_receipt(receipt)
    assert batch["args"]["ids"] == [SWORD, POTION] and batch["args"]["values"] == [1, 10]
    assert f.balanceOfBatch([evm.alice, evm.bob, evm.bob], [SWORD, SWORD, POTION]).call() == [3, 1, 10]
    assert f.totalSupply(SWORD).call() == 4


def test_mismatched_batch_is_refused(evm: Evm) -> None:
    err = evm.reverts(evm.items.functions.mintBatch(evm.alice, [SWORD, POTION], [1], b""), evm.minter)
    assert err.error == "ERC1155InvalidArrayLength"
    assert err.message == "2 token ids but 1 amounts"


def test_holder_or_approved_operator_burns_and_nobody_else(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.mintBatch(evm.alice, [SWORD, POTION], [5, 5], b""), evm.minter)
    evm.send(f.burn(evm.alice, SWORD, 2), evm.alice)
    err = evm.reverts(f.burn(evm.alice, SWORD, 1), evm.minter)
    assert err.error == "ERC1155MissingApprovalForAll"
    assert err.message == f"{evm.minter} is not approved to move tokens of {evm.alice}"
    evm.send(f.setApprovalForAll(evm.minter, True), evm.alice)
    evm.send(f.burnBatch(evm.alice, [SWORD, POTION], [1, 5]), evm.minter)
    assert f.balanceOfBatch([evm.alice, evm.alice], [SWORD, POTION]).call() == [2, 0]
    assert f.totalSupply(POTION).call() == 0


def test_the_custody_address_burns_what_it_holds(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.mint(evm.minter, POTION, 4, b""), evm.minter)
    evm.send(f.burnBatch(evm.minter, [POTION], [4]), evm.minter)
    assert f.balanceOf(evm.minter, POTION).call() == 0


def test_burning_more_than_held_is_refused(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.mint(evm.alice, SWORD, 1, b""), evm.minter)
    err = evm.reverts(f.burn(evm.alice, SWORD, 2), evm.alice)
    assert err.error == "ERC1155InsufficientBalance"
    assert err.message == f"{evm.alice} holds 1 of token {SWORD}, fewer than 2"


def test_batch_transfer_moves_every_id(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.mintBatch(evm.alice, [SWORD, POTION], [2, 9], b""), evm.minter)
    receipt = evm.send(f.safeBatchTransferFrom(evm.alice, evm.bob, [SWORD, POTION], [1, 9], b""), evm.alice)
    assert len(evm.items.events.TransferBatch().process_receipt(receipt)) == 1
    assert f.balanceOfBatch([evm.alice, evm.bob, evm.bob], [SWORD, SWORD, POTION]).call() == [1, 1, 9]
    err = evm.reverts(f.safeBatchTransferFrom(evm.alice, evm.bob, [SWORD], [1], b""), evm.bob)
    assert err.error == "ERC1155MissingApprovalForAll"


def test_transfer_to_a_contract_that_cannot_receive_is_refused(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.mint(evm.alice, SWORD, 1, b""), evm.minter)
    err = evm.reverts(f.safeTransferFrom(evm.alice, evm.rights.address, SWORD, 1, b""), evm.alice)
    assert err.error == "ERC1155InvalidReceiver"
    assert f.balanceOf(evm.alice, SWORD).call() == 1


def test_a_unique_item_has_a_supply_of_one(evm: Evm) -> None:
    f = evm.items.functions
    assert f.isUnique(UNIQUE).call() and not f.isUnique(SWORD).call()
    err = evm.reverts(f.mint(evm.alice, UNIQUE, 2, b""), evm.minter)
    assert err.error == "UniqueTokenSupply" and err.arguments == {"id": UNIQUE}
    assert err.message == f"token {UNIQUE} is a unique item: its supply can only be one"
    assert evm.reverts(f.mintBatch(evm.alice, [UNIQUE, UNIQUE], [1, 1], b""), evm.minter).error == "UniqueTokenSupply"
    evm.send(f.mint(evm.alice, UNIQUE, 1, b""), evm.minter)
    assert evm.reverts(f.mint(evm.bob, UNIQUE, 1, b""), evm.minter).error == "UniqueTokenSupply"
    assert f.totalSupply(UNIQUE).call() == 1
    evm.send(f.burn(evm.alice, UNIQUE, 1), evm.alice)
    evm.send(f.mint(evm.bob, UNIQUE, 1, b""), evm.minter)  # back in the game, withdrawn again
    assert f.balanceOf(evm.bob, UNIQUE).call() == 1


def test_metadata_uri_per_token_and_the_base_uri(evm: Evm) -> None:
    f = evm.items.functions
    assert f.uri(SWORD).call() == BASE_URI
    receipt = evm.send(f.setTokenURI(SWORD, "ipfs://sword.json"), evm.minter)
    (event,) = evm.items.events.URI().process_receipt(receipt)
    assert event["args"]["value"] == "ipfs://sword.json" and event["args"]["id"] == SWORD
    assert f.uri(SWORD).call() == "ipfs://sword.json"
    evm.send(f.setBaseURI("https://other.example/{id}"), evm.admin)
    assert f.uri(POTION).call() == "https://other.example/{id}"
    assert f.uri(SWORD).call() == "ipfs://sword.json"


def test_royalties_per_token_and_by_default(evm: Evm) -> None:
    f = evm.items.functions
    assert f.royaltyInfo(SWORD, 10_000).call() == ["0x" + "00" * 20, 0]
    evm.send(f.setDefaultRoyalty(evm.admin, 250), evm.admin)
    receipt = evm.send(f.setTokenRoyalty(SWORD, evm.bob, 1_000), evm.admin)
    assert evm.items.events.TokenRoyaltyChanged().process_receipt(receipt)[0]["args"]["feeBps"] == 1_000
    assert f.royaltyInfo(SWORD, 10_000).call() == [evm.bob, 1_000]
    assert f.royaltyInfo(POTION, 10_000).call() == [evm.admin, 250]
    evm.send(f.resetTokenRoyalty(SWORD), evm.admin)
    assert f.royaltyInfo(SWORD, 10_000).call() == [evm.admin, 250]
    err = evm.reverts(f.setTokenRoyalty(SWORD, evm.bob, 10_001), evm.admin)
    assert err.error == "ERC2981InvalidTokenRoyalty"


def test_royalties_without_a_rights_registry(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.setTokenRoyalty(SWORD, evm.bob, 500), evm.admin)
    receipt = evm.send(f.setRights("0x" + "00" * 20), evm.admin)
    assert evm.items.events.RightsRegistryChanged().process_receipt(receipt)[0]["args"]["previous"] == evm.rights.address
    assert f.royaltyInfo(SWORD, 2_000).call() == [evm.bob, 100]


def test_pause_stops_transfers_mints_and_burns_until_unpaused(evm: Evm) -> None:
    f = evm.items.functions
    evm.send(f.mint(evm.alice, SWORD, 2, b""), evm.minter)
    evm.send(f.pause(), evm.admin)
    assert f.paused().call()
    for call, sender in ((f.mint(evm.alice, SWORD, 1, b""), evm.minter),
                         (f.mintBatch(evm.alice, [SWORD], [1], b""), evm.minter),
                         (f.safeTransferFrom(evm.alice, evm.bob, SWORD, 1, b""), evm.alice),
                         (f.safeBatchTransferFrom(evm.alice, evm.bob, [SWORD], [1], b""), evm.alice),
                         (f.burn(evm.alice, SWORD, 1), evm.alice),
                         (f.burnBatch(evm.alice, [SWORD], [1]), evm.alice)):
        err = evm.reverts(call, sender)
        assert err.error == "EnforcedPause" and err.message == "the contract is paused"
    assert evm.reverts(f.unpause(), evm.alice).message == f"{evm.alice} does not hold PAUSER_ROLE"
    assert evm.reverts(f.pause(), evm.admin).error == "EnforcedPause"
    evm.send(f.unpause(), evm.admin)
    assert evm.reverts(f.unpause(), evm.admin).error == "ExpectedPause"
    evm.send(f.safeTransferFrom(evm.alice, evm.bob, SWORD, 1, b""), evm.alice)
    assert f.balanceOfBatch([evm.alice, evm.bob], [SWORD, SWORD]).call() == [1, 1]


def test_supported_interfaces(evm: Evm) -> None:
    f = evm.items.functions
    for interface in ("0xd9b67a26", "0x0e89341c", "0x2a55205a", "0x7965db0b", "0x01ffc9a7"):
        assert f.supportsInterface(interface).call(), interface
    assert not f.supportsInterface("0xffffffff").call()


def test_the_gas_benchmark_measures_every_operation() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "benchmarks.chain_gas"], cwd=root, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.splitlines()[2:]]
    gas = {cells[1].strip(): int(cells[2].strip().replace(",", "")) for cells in rows}
    assert len(gas) == 16 and all(10_000 < used < 1_000_000 for used in gas.values())
    # A batch shares the transaction's base cost and the per-call checks: cheaper than ten calls.
    assert gas["mintBatch, 10 ids"] < 10 * gas["mint, 1 id"]
    assert gas["burnBatch, 10 ids (whole balances)"] < 10 * gas["burn, 1 id (whole balance)"]
