"""Works and their licences on chain, as commerce reads and writes them (ElysiumRights).

The chain is the only record: commerce keeps no copy of a work or a licence, so there is
nothing to reconcile after a crash. Commerce's custody key holds REGISTRAR_ROLE, so it registers
works for creators (the creator on chain is the creator's linked wallet) and grants and revokes
licences for them; who may ask it to is decided by the HTTP layer (``commerce.works_api``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from eth_typing import ChecksumAddress
from web3.exceptions import ContractLogicError

from commerce.chain.adapter import Chain
from commerce.chain.errors import ChainRevert, decode_revert, revert_data

T = TypeVar("T")
MAX_SHARE_BPS = 10_000  # ElysiumRights.MAX_SHARE_BPS
MAX_LICENCES_PER_WORK = 100  # ElysiumRights.MAX_LICENCES_PER_WORK
MAX_UINT64 = 2**64 - 1


def iso(seconds: int) -> str:
    """Seconds since the epoch as an RFC 3339 UTC date-time."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Licence:
    id: int
    work: int
    licensee: str
    scope: str
    start: int  # seconds since the epoch; valid from it
    expiry: int  # valid until before it
    royalty_bps: int
    revoked_at: int | None

    def valid_at(self, at: int) -> bool:
        """The contract's rule (``ElysiumRights.isValidAt``)."""
        return self.start <= at < self.expiry and (self.revoked_at is None or at < self.revoked_at)

    def body(self, at: int) -> dict[str, Any]:
        return {"id": self.id, "work": self.work, "licensee": self.licensee, "scope": self.scope,
                "starts_at": iso(self.start), "expires_at": iso(self.expiry), "royalty_bps": self.royalty_bps,
                "revoked_at": None if self.revoked_at is None else iso(self.revoked_at),
                "valid_now": self.valid_at(at)}


@dataclass(frozen=True, slots=True)
class Work:
    id: int
    creator: str
    content_hash: str  # 0x and 64 hex digits
    metadata_uri: str
    registered_at: int
    token_ids: tuple[int, ...]
    licences: tuple[Licence, ...]

    def royalty(self, at: int) -> dict[str, Any] | None:
        """Who the work's items pay royalties to at ``at``: the creator at the newest valid licence's share."""
        for licence in reversed(self.licences):
            if licence.valid_at(at):
                return {"receiver": self.creator, "bps": licence.royalty_bps, "licence": licence.id}
        return None


class Works:
    """ElysiumRights through the chain adapter; refusals are :class:`ChainRevert`, a chain down ``ChainUnavailable``."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    async def _read(self, request: Awaitable[T]) -> T:
        try:
            return await self.chain.call(request)
        except ContractLogicError as exc:
            data = revert_data(exc)
            if data is None:
                raise ChainRevert("Error", (str(exc),), str(exc)) from None
            raise decode_revert(data, self.chain.abis) from None

    async def work_of_content(self, content_hash: bytes) -> int:
        return int(await self._read(self.chain.rights.functions.workOfContent(content_hash).call()))

    async def work_of_token(self, token_id: int) -> int:
        return int(await self._read(self.chain.rights.functions.workOfToken(token_id).call()))

    async def read(self, work: int) -> Work | None:
        """The work with its linked tokens and every licence, or None when there is no such work."""
        f = self.chain.rights.functions
        try:
            creator, content, uri, registered_at = await self._read(f.getWork(work).call())
        except ChainRevert as exc:
            if exc.error == "UnknownWork":
                return None
            raise
        tokens, licence_ids = await asyncio.gather(self._read(f.tokensOf(work).call()),
                                                   self._read(f.licencesOf(work).call()))
        rows = await asyncio.gather(*(self._read(f.getLicence(i).call()) for i in licence_ids))
        licences = tuple(Licence(int(i), int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5]),
                                 int(r[6]) or None) for i, r in zip(licence_ids, rows))
        return Work(work, str(creator), "0x" + bytes(content).hex(), str(uri), int(registered_at),
                    tuple(int(t) for t in tokens), licences)

    async def register(self, creator: ChecksumAddress, content_hash: bytes, metadata_uri: str) -> int:
        """Register a work for ``creator``; its id."""
        rights = self.chain.rights
        receipt = await self.chain.transact(rights.functions.registerWorkFor(creator, content_hash, metadata_uri))
        (event,) = rights.events.WorkRegistered().process_receipt(receipt)
        return int(event["args"]["work"])

    async def link(self, work: int, token_ids: list[int]) -> None:
        if token_ids:
            await self.chain.transact(self.chain.rights.functions.linkItems(work, token_ids))

    async def grant(self, work: int, licensee: ChecksumAddress, scope: str, start: int, expiry: int,
                    royalty_bps: int) -> int:
        """Grant a licence; its id."""
        rights = self.chain.rights
        receipt = await self.chain.transact(rights.functions.grantLicence(work, licensee, scope, start, expiry,
                                                                          royalty_bps))
        (event,) = rights.events.LicenceGranted().process_receipt(receipt)
        return int(event["args"]["licence"])

    async def revoke(self, licence: int) -> None:
        await self.chain.transact(self.chain.rights.functions.revokeLicence(licence))

    async def has_valid_licence(self, work: int, licensee: ChecksumAddress, at: int) -> bool:
        return bool(await self._read(self.chain.rights.functions.hasValidLicence(work, licensee, at).call()))
