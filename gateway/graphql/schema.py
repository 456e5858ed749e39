# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(description=...) is typed as returning Any; the resolvers under it are typed)
"""The GraphQL schema of the client's reads: ``Query`` and ``Viewer``, and the limits around them.

``python -m gateway.graphql`` prints the SDL that ``gateway/schema.graphql`` holds.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from gateway.graphql import errors, types
from gateway.graphql.context import Info
from gateway.graphql.cost import CostLimiter

log = logging.getLogger("gateway.graphql")
MAX_FIELD_LEVELS = 8  # a query nests at most 8 fields deep (a scalar at the 8th level)
MAX_DEPTH = MAX_FIELD_LEVELS - 1  # as strawberry counts: the levels below the root fields
MAX_TOKENS = 2000
MAX_ALIASES = 30
MAX_COST = 5000
PLAYER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ITEM_UID = re.compile(r"[0-9a-f]{32}")


def _seg(value: object) -> str:
    return quote(str(value), safe="")


def _page(first: int, top: int, query: dict[str, str], after: str | None, cursor: str = "cursor") -> dict[str, str]:
    if not 1 <= first <= top:
        raise errors.invalid(f"first must be 1..{top}", errors={"first": f"1..{top}"})
    query["limit"] = str(first)
    if after is not None:
        query[cursor] = after
    return query


@strawberry.type(description="The signed-in player: everything private to them")
class Viewer:
    id: strawberry.ID
    profile: types.Profile

    @strawberry.field(description="Balances per currency and debts (commerce GET /v1/me/wallet)")
    async def wallet(self, info: Info) -> types.Wallet | None:
        body = await info.context.reads.get("commerce", "/v1/me/wallet")
        return types.build(types.Wallet, body, balances=types.Amounts.of(body.get("balances")),
                           debts=types.build_all(types.Debt, body.get("debts")))

    @strawberry.field(description="Owned items, newest first; after: the id of the previous page's last item")
    async def items(self, info: Info, first: int = 50,
                    after: strawberry.ID | None = None) -> list[types.OwnedItem] | None:
        body = await info.context.reads.get("commerce", "/v1/me/items", _page(first, 200, {}, after, "before"))
        return [types.build(types.OwnedItem, i, attributes=i.get("attributes") or {}, origin=i.get("origin") or {})
                for i in body.get("items") or ()]

    @strawberry.field(description="Trades the viewer offered (SENT) or was offered (RECEIVED), newest first")
    async def trades(self, info: Info, role: types.TradeRole, state: str | None = None, first: int = 20,
                     after: str | None = None) -> types.TradePage | None:
        query = {"role": role.value}
        if state is not None:
            query["state"] = state
        body = await info.context.reads.get("commerce", "/v1/trades", _page(first, 200, query, after))
        return types.TradePage(trades=[types.trade(t) for t in body.get("trades") or ()],
                               next_cursor=body.get("next_cursor"))

    @strawberry.field(description="Friends, newest first, each with presence")
    async def friends(self, info: Info) -> list[types.Friend] | None:
        body = await info.context.reads.get("commerce", "/v1/me/friends")
        return [types.friend(f) for f in body.get("friends") or ()]

    @strawberry.field(description="Pending friend requests to and from the viewer, newest first")
    async def friend_requests(self, info: Info) -> types.FriendRequests | None:
        body = await info.context.reads.get("commerce", "/v1/me/friends/requests")
        return types.FriendRequests(incoming=types.build_all(types.FriendRequest, body.get("incoming")),
                                    outgoing=types.build_all(types.FriendRequest, body.get("outgoing")))

    @strawberry.field(description="Finished matches, newest first (matchmaker match history)")
    async def matches(self, info: Info, first: int = 20, after: str | None = None) -> types.MatchPage | None:
        return await types.match_page(info, str(self.id), first, after)

    @strawberry.field(description="Per queue mode and season the viewer played a rated match in")
    async def ratings(self, info: Info) -> list[types.Rating] | None:
        body = await info.context.reads.get("matchmaker", f"/v1/players/{_seg(self.id)}/ratings")
        return types.build_all(types.Rating, body.get("ratings"))

    @strawberry.field(description="Payments for premium packs, newest first")
    async def payments(self, info: Info, first: int = 20) -> list[types.Payment] | None:
        body = await info.context.reads.get("commerce", "/v1/me/payments", _page(first, 200, {}, None))
        return types.build_all(types.Payment, body.get("payments"))


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in player; null without an Authorization header")
    async def viewer(self, info: Info) -> Viewer | None:
        if info.context.reads.token is None:
            return None
        body = await info.context.reads.get("commerce", "/v1/me")
        profile = types.build(types.Profile, body, settings=body.get("settings") or {},
                              roles=list(body.get("roles") or ()))
        return Viewer(id=strawberry.ID(str(body["account_id"])), profile=profile)

    @strawberry.field(description="Open listings, a page at a time; after: the previous page's next")
    async def listings(self, info: Info, filter: types.ListingFilter | None = None,
                       sort: types.ListingSort = types.ListingSort.NEWEST, first: int = 20,
                       after: str | None = None) -> types.ListingPage | None:
        query = {"sort": sort.value}
        if filter is not None:
            for name in ("item_type", "rarity", "currency", "seller", "min_price", "max_price"):
                value = getattr(filter, name)
                if value is not None:
                    query[name] = str(value)
        body = await info.context.reads.get("commerce", "/v1/listings", _page(first, 200, query, after),
                                            anonymous=True)
        return types.ListingPage(listings=[types.listing(b) for b in body.get("listings") or ()],
                                 next=body.get("next"))

    @strawberry.field(description="One listing with provenance and price history; null when there is none")
    async def listing(self, info: Info, id: strawberry.ID) -> types.ListingDetail | None:
        if not ITEM_UID.fullmatch(str(id)):
            return None
        try:
            body = await info.context.reads.get("commerce", f"/v1/listings/{_seg(id)}", anonymous=True)
        except errors.GatewayError as exc:
            if exc.code == "unknown-listing":
                return None
            raise
        return types.listing_detail(body)

    @strawberry.field(description="Every item type of the catalog")
    async def catalog(self, info: Info) -> list[types.ItemType] | None:
        return list((await info.context.loaders.catalog()).values())

    @strawberry.field(description="One item type; null when there is none")
    async def catalog_item(self, info: Info, id: strawberry.ID) -> types.ItemType | None:
        return await info.context.loaders.item_type(str(id))

    @strawberry.field(description="Premium currency packs for sale")
    async def packs(self, info: Info) -> list[types.Pack] | None:
        body = await info.context.reads.get("commerce", "/v1/packs", anonymous=True)
        return types.build_all(types.Pack, body.get("packs"))

    @strawberry.field(description="A leaderboard of a queue mode from the top; season: default the current one")
    async def leaderboard(self, info: Info, mode: str, by: types.LeaderboardOrder = types.LeaderboardOrder.RATING,
                          first: int = 20, after: str | None = None,
                          season: str | None = None) -> types.Leaderboard | None:
        query = {"by": by.value}
        if season is not None:
            query["season"] = season
        body = await info.context.reads.get("matchmaker", f"/v1/leaderboards/{_seg(mode)}",
                                            _page(first, 100, query, after))
        return types.build(types.Leaderboard, body,
                           items=[types.leaderboard_entry(e) for e in body.get("items") or ()])

    @strawberry.field(description="A player's public profile; null when there is none (signed-in players only)")
    async def player(self, info: Info, id: strawberry.ID) -> types.Player | None:
        if info.context.reads.token is None:
            raise errors.GatewayError("unauthorized", "sign in to see players", 401)
        if not PLAYER_ID.fullmatch(str(id)):
            return None
        return await info.context.loaders.players.load(str(id))

    @strawberry.field(description="The relay's list of live matches and replayable ones")
    async def live_matches(self, info: Info, first: int = 50) -> types.LiveMatches | None:
        body = await info.context.reads.get("spectator", "/v1/matches", _page(first, 200, {}, None),
                                            anonymous=True)
        return types.LiveMatches(live=[types.live_match(m) for m in body.get("live") or ()],
                                 replays=[types.live_match(m) for m in body.get("replays") or ()])

    @strawberry.field(description="Per queue mode: waiting players and recent wait times")
    async def queues(self, info: Info) -> list[types.QueueStats] | None:
        body = await info.context.reads.get("matchmaker", "/v1/queues", anonymous=True)
        return [types.queue_stats(m) for m in body.get("modes") or ()]

    @strawberry.field(description="A registered work with its licences; null when there is none")
    async def work(self, info: Info, id: strawberry.ID) -> types.Work | None:
        if not re.fullmatch(r"[1-9][0-9]{0,18}", str(id)):
            return None
        try:
            body = await info.context.reads.get("commerce", f"/v1/works/{_seg(id)}")
        except errors.GatewayError as exc:
            if exc.status == 404:
                return None
            raise
        return types.work(body)


class ReadsSchema(strawberry.Schema):
    """Logs what the client got wrong or an upstream refused at INFO, and only our own bugs as errors."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                log.info("graphql error", extra={"code": (error.extensions or {}).get("code"),
                                                 "error": error.message[:200]})
            else:
                StrawberryLogger.error(error, execution_context)


def build_schema() -> strawberry.Schema:
    return ReadsSchema(query=Query, config=StrawberryConfig(auto_camel_case=True),
                             extensions=[lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
                                         lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
                                         lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
                                         lambda: CostLimiter(max_cost=MAX_COST), errors.ErrorCodes])


schema = build_schema()

