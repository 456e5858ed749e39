"""A real EVM (eth-tester on py-evm) with both contracts deployed, for the contract tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.types import TxParams, TxReceipt

from commerce.chain.artifacts import all_abis, load_artifact
from commerce.chain.errors import ChainRevert, decode_revert, revert_data

BASE_URI = "https://items.example/{id}.json"


@dataclass
class Evm:
    w3: Web3
    provider: EthereumTesterProvider
    admin: str
    minter: str
    registrar: str
    creator: str
    alice: str
    bob: str
    items: Contract
    rights: Contract

    def send(self, call: Any, sender: str, gas: int | None = None) -> TxReceipt:
        """Send a contract call from `sender` and wait for its successful receipt.

        With `gas` the call skips estimation (py-evm's estimate runs the call many times)."""
        params: TxParams = {"from": sender} if gas is None else {"from": sender, "gas": gas}
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact(params))
        assert receipt["status"] == 1
        return receipt

    def reverts(self, call: Any, sender: str) -> ChainRevert:
        """Send a call that must revert; the revert decoded from the contracts' ABIs."""
        try:
            call.transact({"from": sender})
        except TransactionFailed as exc:
            data = revert_data(exc)
            assert data is not None, f"no revert data in {exc!r}"
            return decode_revert(data, all_abis())
        raise AssertionError("the call did not revert")

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel(self, timestamp: int) -> None:
        """Move the chain's clock (forward only) and mine a block there, so calls see the new time."""
        tester = self.provider.ethereum_tester
        assert tester is not None
        tester.time_travel(timestamp)
        tester.mine_blocks(1)


def deploy(w3: Web3, name: str, sender: str, *args: Any) -> Contract:
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    address = receipt["contractAddress"]
    assert address is not None
    return w3.eth.contract(address=address, abi=art["abi"])


def fresh_evm() -> Evm:
    """A new chain: ElysiumRights (admin, registrar) then ElysiumItems (admin, minter, rights, base URI)."""
    provider = EthereumTesterProvider()
    w3 = Web3(provider)
    accounts = list(w3.eth.accounts)
    admin, minter, registrar, creator, alice, bob = accounts[:6]
    rights = deploy(w3, "ElysiumRights", admin, admin, registrar)
    items = deploy(w3, "ElysiumItems", admin, admin, minter, rights.address, BASE_URI)
    return Evm(w3, provider, admin, minter, registrar, creator, alice, bob, items, rights)
