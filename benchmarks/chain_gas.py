"""Gas of ElysiumItems' mint, transfer and burn, one token and a batch of ten, and of the rights
registry's calls, measured on the in-process EVM (eth-tester on py-evm, fork prague).

    .venv/bin/python -m benchmarks.chain_gas      # from the repository root

Gas depends on the contract and the chain state, never on the machine: every figure is a
receipt's gasUsed (21,000 of it the base cost of any transaction). Each operation starts from
the state a withdrawal meets: a token id nobody holds yet, ten distinct ids in a
batch, stackable ids (unique ids cost the same plus their supply check). The chain is the one
the contract tests use (tests/contracts/evm.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from eth_utils.crypto import keccak

from tests.contracts.evm import Evm, fresh_evm

BATCH = 10


def measure(evm: Evm) -> list[tuple[str, int]]:
    items, rights = evm.items.functions, evm.rights.functions
    rows: list[tuple[str, int]] = []
    next_id = iter(range(1, 10_000))

    def gas(label: str, call: Any, sender: str) -> None:
        rows.append((label, int(evm.send(call, sender)["gasUsed"])))

    def ids(n: int) -> list[int]:
        return [next(next_id) for _ in range(n)]

    # The first mint ever also sets the contract's total supply slot (20,000 gas more once).
    evm.send(items.mint(evm.minter, 999_999, 1, b""), evm.minter)
    one, many = ids(1), ids(BATCH)
    gas("mint, 1 id", items.mint(evm.alice, one[0], 5, b""), evm.minter)
    gas(f"mintBatch, {BATCH} ids", items.mintBatch(evm.alice, many, [5] * BATCH, b""), evm.minter)
    unique = (1 << 255) | 1
    gas("mint, 1 unique id", items.mint(evm.alice, unique, 1, b""), evm.minter)
    unique_many = [(1 << 255) | i for i in range(2, 2 + BATCH)]
    gas(f"mintBatch, {BATCH} unique ids", items.mintBatch(evm.alice, unique_many, [1] * BATCH, b""), evm.minter)
    gas("safeTransferFrom, 1 id", items.safeTransferFrom(evm.alice, evm.bob, one[0], 2, b""), evm.alice)
    gas(f"safeBatchTransferFrom, {BATCH} ids",
        items.safeBatchTransferFrom(evm.alice, evm.bob, many, [2] * BATCH, b""), evm.alice)
    gas("burn, 1 id (whole balance)", items.burn(evm.bob, one[0], 2), evm.bob)
    gas(f"burnBatch, {BATCH} ids (whole balances)", items.burnBatch(evm.bob, many, [2] * BATCH), evm.bob)
    gas("setTokenURI", items.setTokenURI(one[0], "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
        evm.minter)

    receipt = evm.send(rights.registerWork(keccak(text="bench"), "ipfs://work.json"), evm.creator)
    rows.append(("registerWork", int(receipt["gasUsed"])))
    gas("linkItems, 1 id", rights.linkItems(1, one), evm.creator)
    gas(f"linkItems, {BATCH} ids", rights.linkItems(1, many), evm.creator)
    now = evm.now()
    gas("grantLicence", rights.grantLicence(1, evm.bob, "items", now, now + 86_400 * 365, 500), evm.creator)
    gas("revokeLicence", rights.revokeLicence(1), evm.creator)
    return rows


def royalty_call_gas(evm: Evm) -> list[tuple[str, int]]:
    """Gas of the view royaltyInfo (as a marketplace contract calling it would pay)."""
    items = evm.items.functions
    estimate: Callable[[Any], int] = lambda call: int(call.estimate_gas({"from": evm.alice})) - 21_000  # noqa: E731
    return [("royaltyInfo, token of no work (call)", estimate(items.royaltyInfo(9_999, 10_000))),
            ("royaltyInfo, token of a licensed work (call)", estimate(items.royaltyInfo(1, 10_000)))]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    evm = fresh_evm()
    rows = measure(evm)
    now = evm.now()
    evm.send(evm.rights.functions.grantLicence(1, evm.bob, "items", now, now + 86_400, 500), evm.creator)
    rows += royalty_call_gas(evm)
    width = max(len(label) for label, _ in rows)
    print(f"| {'operation'.ljust(width)} | gas |")
    print(f"|{'-' * (width + 2)}|---:|")
    for label, used in rows:
        print(f"| {label.ljust(width)} | {used:,} |")


if __name__ == "__main__":
    main()
