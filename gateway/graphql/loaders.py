"""Per-request loaders: every player a response points at comes from one batched read.

``players`` collects the ids the resolvers of one execution step ask for and reads them with
commerce's ``GET /v1/players?ids=...`` (at most :data:`PLAYER_BATCH` per read); the catalog is
read at most once per request whatever the number of items shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from gateway.graphql import types
from gateway.graphql.reads import Reads

PLAYER_BATCH = 100  # commerce's bound on one batch read


class Loaders:
    def __init__(self, reads: Reads) -> None:
        self.reads = reads
        self.players: DataLoader[str, types.Player | None] = DataLoader(load_fn=self._load_players,
                                                                        max_batch_size=PLAYER_BATCH)
        self._catalog: asyncio.Task[dict[str, types.ItemType]] | None = None

    async def _load_players(self, ids: Sequence[str]) -> list[types.Player | None]:
        if self.reads.token is None:  # commerce shows players to signed-in players only
            return [None] * len(ids)
        body = await self.reads.get("commerce", "/v1/players", {"ids": ",".join(ids)})
        found = {p["id"]: types.build(types.Player, p) for p in body.get("players") or () if isinstance(p, dict)}
        return [found.get(i) for i in ids]

    async def catalog(self) -> dict[str, types.ItemType]:
        if self._catalog is None:
            self._catalog = asyncio.ensure_future(self._read_catalog())
        return await asyncio.shield(self._catalog)

    async def _read_catalog(self) -> dict[str, types.ItemType]:
        body = await self.reads.get("commerce", "/v1/catalog", anonymous=True)
        return {str(i["id"]): types.item_type(i) for i in body.get("items") or () if isinstance(i, dict)}

    async def item_type(self, item_id: str) -> types.ItemType | None:
        return (await self.catalog()).get(item_id)
