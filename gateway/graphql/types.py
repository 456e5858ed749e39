# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(description=...) is typed as returning Any; the resolvers under it are typed)
"""The GraphQL object types: the REST bodies of commerce, the matchmaker and the relay, in camelCase.

Each type is built from one REST body with :func:`build` (a body's ``snake_case`` keys are the
types' Python field names). Money is ``Int`` minor units, as the REST APIs count it. Commerce's
times are ISO 8601 strings; the matchmaker's are ``Float`` milliseconds since the epoch
(``...Ms`` fields: past 2^31, so not ``Int``). Relations that point at players (``seller``,
``offerer``, ``player``...) resolve through the request's batched player loader.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import strawberry
from strawberry.scalars import JSON

from gateway.graphql.context import Info
from gateway.graphql.errors import invalid

T = TypeVar("T")


def build(cls: type[T], body: Mapping[str, Any], **nested: Any) -> T:
    """An instance of the strawberry type ``cls`` from a REST body; ``nested`` overrides fields."""
    kwargs = {f.name: body.get(f.name) for f in dataclasses.fields(cls)  # type: ignore[arg-type]
              if f.init and f.name not in nested}
    return cls(**kwargs, **nested)


def build_all(cls: type[T], bodies: Iterable[Mapping[str, Any]] | None) -> list[T]:
    return [build(cls, b) for b in bodies or ()]


async def _player(info: Info, player_id: str | None) -> Player | None:
    if not player_id:
        return None
    return await info.context.loaders.players.load(player_id)


# --- shared ------------------------------------------------------------------------------------

@strawberry.type(description="An amount per currency, in whole units of each (soft, premium); null when absent")
class Amounts:
    soft: int | None = None
    premium: int | None = None

    @staticmethod
    def of(body: Mapping[str, Any] | None) -> Amounts:
        body = body or {}
        return Amounts(soft=body.get("soft"), premium=body.get("premium"))


@strawberry.enum(description="How a listing page is ordered")
class ListingSort(enum.Enum):
    NEWEST = "newest"
    OLDEST = "oldest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"


@strawberry.enum(description="A leaderboard's order")
class LeaderboardOrder(enum.Enum):
    RATING = "rating"
    WINS = "wins"


@strawberry.enum(description="Which of the viewer's trades: those they offered or those offered to them")
class TradeRole(enum.Enum):
    SENT = "sent"
    RECEIVED = "received"


# --- players -----------------------------------------------------------------------------------

@strawberry.type(description="A player's standing in one queue mode and season (matchmaker)")
class Rating:
    mode: str
    season: str
    ordinal: float = strawberry.field(description="mu - 3 sigma")
    mu: float
    sigma: float
    matches: int
    wins: int


@strawberry.type(description="A player's public profile: nothing private (commerce's batch read of players)")
class Player:
    id: strawberry.ID
    display_name: str
    avatar_url: str | None
    created_at: str = strawberry.field(description="ISO 8601")

    @strawberry.field(description="Per queue mode and season the player played a rated match in (matchmaker)")
    async def ratings(self, info: Info) -> list[Rating] | None:
        body = await info.context.reads.get("matchmaker", f"/v1/players/{_seg(self.id)}/ratings")
        return build_all(Rating, body.get("ratings"))

    @strawberry.field(description="Finished matches, newest first; after: the previous page's next")
    async def matches(self, info: Info, first: int = 20, after: str | None = None) -> MatchPage | None:
        return await match_page(info, str(self.id), first, after)


def _seg(value: object) -> str:
    return quote(str(value), safe="")


# --- viewer: profile, wallet, items ------------------------------------------------------------

@strawberry.type(description="The signed-in player's own profile (commerce GET /v1/me)")
class Profile:
    account_id: strawberry.ID
    username: str | None = strawberry.field(description="null for a guest account until it links one")
    display_name: str
    avatar_url: str | None
    region: str | None
    settings: JSON
    roles: list[str]
    guest: bool
    eth_address: str | None = strawberry.field(description="the linked wallet (EIP-55), or null")
    created_at: str = strawberry.field(description="ISO 8601")


@strawberry.type(description="What a refund or chargeback left owing; credits pay it first")
class Debt:
    id: strawberry.ID
    currency: str
    amount: int
    paid: int
    remaining: int
    cause: str
    payment_id: str | None
    created_at: str = strawberry.field(description="ISO 8601")


@strawberry.type(description="Balances and debts (commerce GET /v1/me/wallet)")
class Wallet:
    account_id: strawberry.ID
    balances: Amounts
    debts: list[Debt]


@strawberry.type(description="An item type of the catalog (commerce GET /v1/catalog)")
class ItemType:
    id: strawberry.ID
    name: str
    description: str | None
    rarity: str
    stackable: bool
    tradeable: bool
    price: Amounts = strawberry.field(description="the store's price per currency; null where it is not sold")
    supply_cap: int | None
    supply_left: int | None
    max_per_purchase: int | None


def item_type(body: Mapping[str, Any]) -> ItemType:
    return build(ItemType, body, price=Amounts.of(body.get("price")))


@strawberry.type(description="One item the viewer owns (commerce GET /v1/me/items)")
class OwnedItem:
    id: strawberry.ID
    item_id: str = strawberry.field(description="its item type's id")
    custody: str = strawberry.field(description="in_game, listed, escrow or on_chain")
    attributes: JSON
    origin: JSON
    created_at: str = strawberry.field(description="ISO 8601")

    @strawberry.field(description="Its item type (one catalog read per request)")
    async def item_type(self, info: Info) -> ItemType | None:
        return await info.context.loaders.item_type(self.item_id)


# --- trades ------------------------------------------------------------------------------------

@strawberry.type
class TradeItem:
    id: strawberry.ID
    item_id: str


@strawberry.type(description="One side of a trade: items and an amount per currency")
class TradeSide:
    items: list[TradeItem]
    currency: Amounts


def trade_side(body: Mapping[str, Any] | None) -> TradeSide:
    body = body or {}
    return TradeSide(items=build_all(TradeItem, body.get("items")), currency=Amounts.of(body.get("currency")))


@strawberry.type(description="A trade between two players (commerce GET /v1/trades)")
class Trade:
    trade_id: strawberry.ID
    offerer_id: strawberry.ID
    receiver_id: strawberry.ID
    state: str = strawberry.field(description="open, accepted, declined, cancelled or expired")
    offer: TradeSide
    request: TradeSide
    created_at: str = strawberry.field(description="ISO 8601")
    expires_at: str = strawberry.field(description="ISO 8601")
    closed_at: str | None = strawberry.field(description="ISO 8601; null while open")
    closed_by: str | None = strawberry.field(description="who accepted, declined or cancelled")

    @strawberry.field(description="The player who offered it")
    async def offerer(self, info: Info) -> Player | None:
        return await _player(info, self.offerer_id)

    @strawberry.field(description="The player it was offered to")
    async def receiver(self, info: Info) -> Player | None:
        return await _player(info, self.receiver_id)


def trade(body: Mapping[str, Any]) -> Trade:
    return build(Trade, body, offer=trade_side(body.get("offer")), request=trade_side(body.get("request")))


@strawberry.type
class TradePage:
    trades: list[Trade]
    next_cursor: str | None = strawberry.field(description="pass as after for the next page; null on the last")


# --- friends -----------------------------------------------------------------------------------

@strawberry.type(description="The most specific live state (online, queued, in_match, watching ...); none is offline")
class Presence:
    state: str | None
    match_id: str | None
    watch: str | None = strawberry.field(description="path on the spectator relay that watches the match")
    since_ms: float | None = strawberry.field(description="milliseconds since the epoch")


@strawberry.type(description="A friend, with presence (commerce GET /v1/me/friends)")
class Friend:
    id: strawberry.ID
    display_name: str
    avatar_url: str | None
    since: str | None = strawberry.field(description="ISO 8601")
    presence: Presence | None

    @strawberry.field(description="The friend's public profile")
    async def player(self, info: Info) -> Player | None:
        return await _player(info, self.id)


def friend(body: Mapping[str, Any]) -> Friend:
    raw = body.get("presence")
    return build(Friend, body, presence=build(Presence, raw) if isinstance(raw, Mapping) else None)


@strawberry.type(description="A pending friend request, to or from the viewer")
class FriendRequest:
    id: strawberry.ID = strawberry.field(description="the other player")
    display_name: str
    avatar_url: str | None
    at: str | None = strawberry.field(description="ISO 8601")

    @strawberry.field(description="The other player's public profile")
    async def player(self, info: Info) -> Player | None:
        return await _player(info, self.id)


@strawberry.type
class FriendRequests:
    incoming: list[FriendRequest]
    outgoing: list[FriendRequest]


# --- matches -----------------------------------------------------------------------------------

@strawberry.type
class RatingSnapshot:
    mu: float
    sigma: float
    ordinal: float


@strawberry.type(description="One player's row of a finished match")
class MatchPlayer:
    player_id: strawberry.ID
    name: str
    seat: int
    team: int
    score: int
    placement: int | None
    time_played_s: float | None
    stats: JSON
    won: bool
    rating_before: RatingSnapshot | None
    rating_after: RatingSnapshot | None


def match_player(body: Mapping[str, Any]) -> MatchPlayer:
    def snap(raw: Any) -> RatingSnapshot | None:
        return build(RatingSnapshot, raw) if isinstance(raw, Mapping) else None
    return build(MatchPlayer, body, rating_before=snap(body.get("rating_before")),
                 rating_after=snap(body.get("rating_after")), stats=body.get("stats") or {})


@strawberry.type(description="A team of a team match")
class MatchSide:
    team: int
    score: int
    placement: int
    players: list[strawberry.ID]


@strawberry.type(description="Where a finished match replays: available, expired or unavailable")
class Replay:
    status: str
    url: str | None
    expires_at_ms: float | None = strawberry.field(description="milliseconds since the epoch")


@strawberry.type(description="A finished match (matchmaker match history)")
class Match:
    match_id: strawberry.ID
    mode: str
    game_mode: str | None
    season: str | None
    reason: str | None
    teams: int = strawberry.field(description="0 in a free-for-all, else the number of teams")
    sides: list[MatchSide]
    winners: list[strawberry.ID]
    duration_s: float | None
    ticks: int | None
    started_at_ms: float | None = strawberry.field(description="milliseconds since the epoch")
    ended_at_ms: float | None = strawberry.field(description="milliseconds since the epoch")
    players: list[MatchPlayer]
    rated: bool | None
    custom: str | None = strawberry.field(description="the custom game's join code; null for a queued match")
    replay: Replay | None


def match(body: Mapping[str, Any]) -> Match:
    raw = body.get("replay")
    return build(Match, body, sides=build_all(MatchSide, body.get("sides")),
                 players=[match_player(p) for p in body.get("players") or ()],
                 winners=list(body.get("winners") or ()), replay=build(Replay, raw) if isinstance(raw, Mapping)
                 else None)


@strawberry.type
class MatchPage:
    items: list[Match]
    next: str | None = strawberry.field(description="pass as after for the next page; null on the last")


MATCHES_PAGE_MAX = 50  # the matchmaker's bound


async def match_page(info: Info, player: str, first: int, after: str | None) -> MatchPage:
    if not 1 <= first <= MATCHES_PAGE_MAX:
        raise invalid(f"first must be 1..{MATCHES_PAGE_MAX}", errors={"first": f"1..{MATCHES_PAGE_MAX}"})
    query = {"limit": str(first)}
    if after is not None:
        query["cursor"] = after
    body = await info.context.reads.get("matchmaker", f"/v1/players/{_seg(player)}/matches", query)
    return MatchPage(items=[match(m) for m in body.get("items") or ()], next=body.get("next"))


# --- payments ----------------------------------------------------------------------------------

@strawberry.type(description="A premium currency pack for real money (commerce GET /v1/packs)")
class Pack:
    id: strawberry.ID
    name: str
    price: int = strawberry.field(description="minor units (cents) of currency")
    currency: str = strawberry.field(description="ISO 4217")
    premium: int = strawberry.field(description="premium currency the pack credits")


@strawberry.type(description="One of the viewer's payments (commerce GET /v1/me/payments)")
class Payment:
    payment_id: strawberry.ID
    provider: str
    pack_id: str
    premium: int
    price: int = strawberry.field(description="minor units (cents) of currency")
    currency: str
    state: str = strawberry.field(description="pending, paid, partially_refunded, refunded or disputed")
    checkout_url: str | None
    refunded_premium: int | None
    chargeback_premium: int | None
    created_at: str = strawberry.field(description="ISO 8601")
    paid_at: str | None = strawberry.field(description="ISO 8601")


# --- the market --------------------------------------------------------------------------------

@strawberry.input(description="Listing filters; every one optional (price filters need a currency)")
class ListingFilter:
    item_type: str | None = None
    rarity: str | None = None
    currency: str | None = None
    seller: strawberry.ID | None = None
    min_price: int | None = None
    max_price: int | None = None


@strawberry.type(description="A market listing (commerce GET /v1/listings)")
class Listing:
    id: strawberry.ID
    seller_id: strawberry.ID = strawberry.field(description="the REST body's seller")
    item_type: str = strawberry.field(description="the item type's id")
    rarity: str
    quantity: int
    items: list[strawberry.ID]
    currency: str
    price: int = strawberry.field(description="per unit")
    total: int = strawberry.field(description="price x quantity: what the buyer pays")
    fee_bps: int
    state: str = strawberry.field(description="open, sold, cancelled or expired")
    created_at: str = strawberry.field(description="ISO 8601")
    expires_at: str = strawberry.field(description="ISO 8601")
    closed_at: str | None = strawberry.field(description="ISO 8601")
    buyer_id: strawberry.ID | None = strawberry.field(description="the REST body's buyer; sold listings only")
    sale_id: str | None
    fee: int | None
    proceeds: int | None

    @strawberry.field(description="The selling player")
    async def seller(self, info: Info) -> Player | None:
        return await _player(info, self.seller_id)

    @strawberry.field(description="The buying player, once sold")
    async def buyer(self, info: Info) -> Player | None:
        return await _player(info, self.buyer_id)

    @strawberry.field(description="The listed item type (one catalog read per request)")
    async def item(self, info: Info) -> ItemType | None:
        return await info.context.loaders.item_type(self.item_type)


def _listing_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"seller_id": body.get("seller"), "buyer_id": body.get("buyer")}


def listing(body: Mapping[str, Any]) -> Listing:
    return build(Listing, body, **_listing_fields(body))


@strawberry.type
class ListingPage:
    listings: list[Listing]
    next: str | None = strawberry.field(description="pass as after for the next page; null on the last")


@strawberry.type
class ProvenanceSale:
    price: int
    currency: str
    at: str = strawberry.field(description="ISO 8601")


@strawberry.type(description="Where one listed item came from and who held it")
class Provenance:
    item: strawberry.ID
    origin: str | None
    previous_owners: list[strawberry.ID]
    sales: list[ProvenanceSale]


@strawberry.type
class LastSale:
    unit_price: int
    quantity: int
    at: str = strawberry.field(description="ISO 8601")


@strawberry.type(description="Unit-price statistics over a window")
class SaleWindow:
    sales: int
    units: int
    turnover: int
    min: int | None
    max: int | None
    median: int | None = strawberry.field(description="the lower median of the unit prices")


@strawberry.type(description="One currency's price history of an item type: the REST body's last, 24h and 7d")
class PriceStats:
    last: LastSale | None
    day: SaleWindow = strawberry.field(description="the last 24 hours (REST 24h)")
    week: SaleWindow = strawberry.field(description="the last 7 days (REST 7d)")


def price_stats(body: Mapping[str, Any] | None) -> PriceStats | None:
    if not isinstance(body, Mapping):
        return None
    last = body.get("last")
    return PriceStats(last=build(LastSale, last) if isinstance(last, Mapping) else None,
                      day=build(SaleWindow, body.get("24h") or {}), week=build(SaleWindow, body.get("7d") or {}))


@strawberry.type
class PriceHistory:
    soft: PriceStats | None
    premium: PriceStats | None


@strawberry.type(description="A listing with provenance and price history (commerce GET /v1/listings/{id})")
class ListingDetail(Listing):
    provenance: list[Provenance]
    price_stats: PriceHistory


def listing_detail(body: Mapping[str, Any]) -> ListingDetail:
    stats = body.get("price_stats") or {}
    return build(ListingDetail, body, **_listing_fields(body),
                 provenance=[build(Provenance, p, sales=build_all(ProvenanceSale, p.get("sales")),
                                   previous_owners=list(p.get("previous_owners") or ()))
                             for p in body.get("provenance") or ()],
                 price_stats=PriceHistory(soft=price_stats(stats.get("soft")),
                                          premium=price_stats(stats.get("premium"))))


# --- leaderboards, live matches, queues --------------------------------------------------------

@strawberry.type(description="A row of a leaderboard")
class LeaderboardEntry:
    rank: int
    player_id: strawberry.ID = strawberry.field(description="the REST body's player")
    name: str
    ordinal: float
    mu: float
    sigma: float
    matches: int
    wins: int

    @strawberry.field(description="The player's public profile")
    async def player(self, info: Info) -> Player | None:
        return await _player(info, self.player_id)


def leaderboard_entry(body: Mapping[str, Any]) -> LeaderboardEntry:
    return build(LeaderboardEntry, body, player_id=body.get("player"))


@strawberry.type(description="The top of a leaderboard (matchmaker GET /v1/leaderboards/{mode})")
class Leaderboard:
    mode: str
    season: str
    by: str
    total: int = strawberry.field(description="ranked players")
    items: list[LeaderboardEntry]
    next: str | None = strawberry.field(description="pass as after for the next page; null on the last")

    @strawberry.field(description="The viewer's rank on this board; null when unranked or signed out")
    async def viewer_rank(self, info: Info) -> int | None:
        if info.context.reads.token is None:
            return None
        body = await info.context.reads.get("matchmaker", f"/v1/leaderboards/{_seg(self.mode)}/me",
                                            {"season": self.season, "by": self.by, "neighbours": "0"})
        rank = body.get("rank")
        return rank if isinstance(rank, int) else None


@strawberry.type
class LivePlayer:
    seat: int | None
    id: strawberry.ID | None
    name: str | None
    team: int | None
    score: int | None


@strawberry.type
class TeamScore:
    team: int
    score: int


@strawberry.type(description="A match on the relay's list: live, or finished and replayable")
class LiveMatch:
    match_id: strawberry.ID
    mode: str | None
    state: str | None = strawberry.field(description="waiting, running or finished")
    players: list[LivePlayer]
    score: list[TeamScore] = strawberry.field(description="the REST body's [team, total score] pairs")
    top_score: int | None
    tick: int | None
    elapsed_s: float | None
    viewers: int | None
    end_reason: str | None
    watch: str = strawberry.field(description="the relay's websocket path to watch it (replays: from the start)")


def live_match(body: Mapping[str, Any]) -> LiveMatch:
    pairs = [p for p in body.get("score") or () if isinstance(p, list) and len(p) == 2]
    return build(LiveMatch, body, players=build_all(LivePlayer, body.get("players")),
                 score=[TeamScore(team=int(t), score=int(s)) for t, s in pairs])


@strawberry.type(description="The relay's list (spectator GET /v1/matches)")
class LiveMatches:
    live: list[LiveMatch]
    replays: list[LiveMatch]


@strawberry.type
class RegionWaiting:
    region: str
    players: int


@strawberry.type(description="One queue mode's statistics (matchmaker GET /v1/queues)")
class QueueStats:
    mode: str
    players_waiting: int
    regions: list[RegionWaiting] = strawberry.field(description="waiting players per nearest region")
    recent_matched_tickets: int
    wait_p50_s: float | None
    wait_p90_s: float | None


def queue_stats(body: Mapping[str, Any]) -> QueueStats:
    regions = body.get("regions") or {}
    return build(QueueStats, body, regions=[RegionWaiting(region=str(k), players=int(v))
                                            for k, v in sorted(regions.items())])


# --- works -------------------------------------------------------------------------------------

@strawberry.type
class WorkItem:
    token_id: str = strawberry.field(description="the ERC-1155 token id, in decimal")
    item_type: str | None


@strawberry.type(description="A licence of a work")
class Licence:
    id: strawberry.ID
    work: strawberry.ID
    licensee: str
    scope: str
    starts_at: str = strawberry.field(description="ISO 8601")
    expires_at: str = strawberry.field(description="ISO 8601")
    royalty_bps: int
    revoked_at: str | None = strawberry.field(description="ISO 8601")
    valid_now: bool


@strawberry.type(description="Who the work's items pay royalties to now")
class Royalty:
    receiver: str
    bps: int
    licence: strawberry.ID


@strawberry.type(description="A registered work with its licences (commerce GET /v1/works/{id})")
class Work:
    id: strawberry.ID
    creator: str = strawberry.field(description="the creator's wallet (EIP-55)")
    creator_account: strawberry.ID | None
    content_hash: str
    metadata_uri: str
    registered_at: str = strawberry.field(description="ISO 8601")
    items: list[WorkItem]
    licences: list[Licence]
    royalty: Royalty | None


def work(body: Mapping[str, Any]) -> Work:
    raw = body.get("royalty")
    return build(Work, body, id=str(body.get("id")), items=build_all(WorkItem, body.get("items")),
                 licences=[build(Licence, lic, id=str(lic.get("id")), work=str(lic.get("work")))
                           for lic in body.get("licences") or ()],
                 royalty=build(Royalty, raw, licence=str(raw.get("licence"))) if isinstance(raw, Mapping) else None)
