"""Match history, ratings and leaderboards over HTTP (``openapi.json``; docs/matchmaker.md).

Every route takes a player access token or, when ``ELYSIUM_SERVICE_PUBLIC_KEY_FILE`` is set,
a service token (commerce's public profiles read them); ``/v1/leaderboards/{mode}/me``
needs a player token, since it ranks the caller.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from aiohttp import web

from elysium import http, numbers, tokens
from matchmaker import errors, ranking, records
from matchmaker.app import SERVICES, Services
from matchmaker.leaderboard import Entry
from matchmaker.settings import SEASON_RE

PLAYER_RE_MAX = 64
MATCH_ID_MAX = 64
HISTORY_LIMIT = (1, 50, 20)  # lowest, highest, default
BOARD_LIMIT = (1, 100, 20)
NEIGHBOURS = (0, 25, 5)
MAX_OFFSET = 10_000_000


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/players/{player_id}/matches", player_matches)
    app.router.add_get("/v1/players/{player_id}/ratings", player_ratings)
    app.router.add_get("/v1/matches/{match_id}", get_match)
    app.router.add_get("/v1/leaderboards/{mode}", leaderboard)
    app.router.add_get("/v1/leaderboards/{mode}/me", leaderboard_me)


def _svc(request: web.Request) -> Services:
    return request.app[SERVICES]


def _now_ms() -> int:
    return int(time.time() * 1000)


def caller(request: web.Request) -> tuple[str, str]:
    """(kind, subject): ``("player", id)`` or ``("service", name)`` from the Bearer token."""
    svc = _svc(request)
    token = http.bearer(request)
    try:
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        audience = None  # the verifier below says what is wrong with it
    if audience == tokens.SERVICE_AUDIENCE and svc.service_auth is not None:
        return "service", str(svc.service_auth.claims(token)["sub"])
    claims = svc.auth.claims(token)
    player = claims["sub"]
    if not 1 <= len(player) <= PLAYER_RE_MAX:
        raise http.invalid_token("token_claims", "player id must be 1 to 64 characters")
    return "player", str(player)


def _query(request: web.Request, *allowed: str) -> None:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise errors.invalid(f"unknown query parameters: {', '.join(unknown)[:200]}; this route takes "
                             f"{', '.join(allowed)}")


def _whole(request: web.Request, name: str, bounds: tuple[int, int, int]) -> int:
    raw = request.query.get(name)
    if raw is None:
        return bounds[2]
    try:
        return numbers.whole(raw, name, bounds[0], bounds[1])
    except numbers.NumberError as exc:
        raise errors.invalid(str(exc)) from None


def _cursor(request: web.Request, shape: dict[str, type]) -> dict[str, Any] | None:
    raw = request.query.get("cursor")
    if raw is None:
        return None
    try:
        return ranking.read_cursor(raw, shape)
    except ranking.CursorError as exc:
        raise errors.Problem(400, "invalid-cursor", "Invalid cursor",
                             f"{exc}; pass back the 'next' of the previous page") from None


def _player_id(request: web.Request) -> str:
    player = request.match_info["player_id"]
    if not 1 <= len(player) <= PLAYER_RE_MAX:
        raise errors.not_found("player-not-found", "player ids are 1 to 64 characters")
    return player


def _source(svc: Services) -> records.ReplaySource:
    return records.ReplaySource(svc.settings.spectator_public_url, svc.settings.feed_retention_s)


# --- match history ---------------------------------------------------------------------------

async def player_matches(request: web.Request) -> web.Response:
    svc = _svc(request)
    caller(request)
    _query(request, "limit", "cursor")
    player = _player_id(request)
    limit = _whole(request, "limit", HISTORY_LIMIT)
    after = _cursor(request, {"e": int, "m": str})
    docs = await svc.history.of_player(player, limit + 1, None if after is None else (after["e"], after["m"]))
    now = _now_ms()
    items = [records.match_view(d, _source(svc), now) for d in docs[:limit]]
    last = docs[limit - 1] if len(docs) > limit else None
    next_cursor = ranking.make_cursor({"e": last["ended_at_us"], "m": last["_id"]}) if last else None
    return http.json_response({"player": player, "items": items, "next": next_cursor})


async def get_match(request: web.Request) -> web.Response:
    svc = _svc(request)
    caller(request)
    _query(request)
    match_id = request.match_info["match_id"]
    doc = await svc.history.get(match_id) if 1 <= len(match_id) <= MATCH_ID_MAX else None
    if doc is None:
        raise errors.not_found("match-not-found", "no finished match has that id")
    return http.json_response(records.match_view(doc, _source(svc), _now_ms()))


def _standing_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"mode": doc["mode"], "season": doc["season"], "ordinal": round(float(doc["ordinal"]), 4),
            "mu": round(float(doc["mu"]), 4), "sigma": round(float(doc["sigma"]), 4),
            "matches": int(doc["matches"]), "wins": int(doc["wins"])}


async def player_ratings(request: web.Request) -> web.Response:
    svc = _svc(request)
    caller(request)
    _query(request)
    player = _player_id(request)
    docs = await svc.ratings.seasons_of(player)
    return http.json_response({"player": player, "season": svc.settings.season,
                               "ratings": [_standing_view(d) for d in docs]})


# --- leaderboards ----------------------------------------------------------------------------

def _board_params(request: web.Request, *extra: str) -> tuple[Services, str, str, str]:
    svc = _svc(request)
    _query(request, "season", "by", *extra)
    mode = request.match_info["mode"]
    if mode not in svc.modes:
        raise errors.not_found("unknown-mode", f"no such queue mode; modes: {', '.join(sorted(svc.modes))}")
    season = request.query.get("season", svc.settings.season)
    if not SEASON_RE.fullmatch(season):
        raise errors.invalid("season must be 1-32 of a-z, 0-9 and '-'")
    by = request.query.get("by", "rating")
    if by not in ranking.BY:
        raise errors.invalid("by must be rating or wins")
    return svc, mode, season, by


async def _entries(svc: Services, mode: str, season: str, entries: list[Entry]) -> list[dict[str, Any]]:
    docs = await svc.ratings.standings_of(mode, season, [e.player for e in entries])
    out = []
    for entry in entries:
        doc = docs.get(entry.player)
        if doc is not None:  # a standing is never removed; None only if MongoDB lost it
            out.append({"rank": entry.rank, "player": entry.player, "name": doc.get("name", entry.player),
                        **_standing_view(doc)})
    return out


async def leaderboard(request: web.Request) -> web.Response:
    caller(request)
    svc, mode, season, by = _board_params(request, "limit", "cursor")
    limit = _whole(request, "limit", BOARD_LIMIT)
    after = _cursor(request, {"o": int, "s": str, "b": str})
    offset = 0
    if after is not None:
        if (after["s"], after["b"]) != (season, by) or after["o"] > MAX_OFFSET:
            raise errors.Problem(400, "invalid-cursor", "Invalid cursor",
                                 "the cursor belongs to another season or order; pass back the 'next' you got")
        offset = int(after["o"])
    total = await svc.leaderboard.size(mode, season, by)
    entries = await svc.leaderboard.page(mode, season, by, offset, limit)
    end = offset + len(entries)
    next_cursor = ranking.make_cursor({"o": end, "s": season, "b": by}) if end < total and entries else None
    return http.json_response({"mode": mode, "season": season, "by": by, "total": total,
                               "items": await _entries(svc, mode, season, entries), "next": next_cursor})


async def leaderboard_me(request: web.Request) -> web.Response:
    kind, player = caller(request)
    if kind != "player":
        raise errors.Problem(403, "player-token-required", "This route ranks the caller: send a player token")
    svc, mode, season, by = _board_params(request, "neighbours")
    k = _whole(request, "neighbours", NEIGHBOURS)
    total = await svc.leaderboard.size(mode, season, by)
    rank = await svc.leaderboard.rank(mode, season, by, player)
    items: list[dict[str, Any]] = []
    if rank is not None:
        start = max(0, rank - 1 - k)
        entries = await svc.leaderboard.page(mode, season, by, start, rank - start + k)
        items = await _entries(svc, mode, season, entries)
    return http.json_response({"mode": mode, "season": season, "by": by, "total": total, "player": player,
                               "rank": rank, "items": items})
