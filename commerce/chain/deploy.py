"""Deploying ElysiumRights and ElysiumItems with the custody key as admin, minter, pauser and registrar.

The embedded chain (:mod:`commerce.chain.embedded`) and the tests deploy this way; a real
network's deployment (docs/chain.md, *Deploying to a real network*) gives the admin roles to
an operator's key instead and the minter role alone to the custody key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commerce.chain.adapter import Chain
from commerce.chain.artifacts import load_artifact

BASE_URI = "https://items.elysium.invalid/{id}.json"


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    items: str
    rights: str
    custody: str
    block: int  # the block the items contract was deployed in: where the deposit reconciler starts

    def to_json(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "items": self.items, "rights": self.rights, "custody": self.custody,
                "block": self.block}


async def _create(chain: Chain, name: str, *args: object) -> tuple[str, int]:
    art = load_artifact(name)
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = await chain.transact(factory.constructor(*args))
    address = receipt["contractAddress"]
    assert address is not None
    return str(address), int(receipt["blockNumber"])


async def deploy(chain: Chain, base_uri: str = BASE_URI) -> Deployment:
    """Deploy both contracts, point ``chain`` at them and say where they are."""
    rights, _ = await _create(chain, "ElysiumRights", chain.custody, chain.custody)
    items, block = await _create(chain, "ElysiumItems", chain.custody, chain.custody, rights, base_uri)
    chain.at(items, rights)
    return Deployment(chain.chain_id, items, rights, chain.custody, block)
