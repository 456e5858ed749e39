"""The custom games' HTTP API under ``/v1/games`` (``openapi.json`` describes it).

The rules (bounds, options, seating) are ``gamerules.py``; the atomic state changes are
``games.py``; starting places the room through the matching loop's own allocation
(:meth:`Matcher.allocate`), and members read their join tokens from the game's ticket.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from argon2.exceptions import InvalidHashError, VerificationError

from elysium import http, matchids
from matchmaker import errors, gamerules
from matchmaker.api import CODE_RE, REGION_RE, _body, _now_ms, _player, _svc, in_game
from matchmaker.app import Services
from matchmaker.games import Game, NewGame, Outcome
from matchmaker.modes import ModeConfig

CURSOR_RE = re.compile(r"^[0-9]{13}\.[A-Z0-9]{6}$")
MAX_PASSWORD_CHARS = 64
MAX_MAP_CHARS = 32
MAX_OPTIONS = 32
PAGE_DEFAULT, PAGE_MAX = 20, 100
START_WAIT_S = 5.0  # a start that finds another start placing the room waits this long for its answer
START_POLL_S = 0.05
HOST_FIELDS = frozenset({"mode", "region", "seats", "public", "password", "map", "options", "ranked"})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/games", host_game)
    app.router.add_get("/v1/games", list_games)
    app.router.add_get("/v1/games/{code}", get_game)
    app.router.add_post("/v1/games/{code}/join", join_game)
    app.router.add_post("/v1/games/{code}/leave", leave_game)
    app.router.add_post("/v1/games/{code}/kick", kick_member)
    app.router.add_post("/v1/games/{code}/lock", lock_game)
    app.router.add_post("/v1/games/{code}/unlock", unlock_game)
    app.router.add_post("/v1/games/{code}/start", start_game)


# --- views ------------------------------------------------------------------------------------

def game_summary(game: Game) -> dict[str, Any]:
    """What the lobby browser shows of a game."""
    host = next((m.name for m in game.members if m.id == game.host), game.host)
    return {"code": game.code, "mode": game.mode, "region": game.region, "public": game.public,
            "password": bool(game.password_hash), "seats": game.seats, "players": len(game.members),
            "host": game.host, "host_name": host, "state": game.state, "options": game.options, "ranked": game.ranked,
            "created_ms": game.created_ms, "expires_ms": game.expires_ms}


def game_view(game: Game, player: str) -> dict[str, Any]:
    view = game_summary(game)
    view["members"] = [{"id": m.id, "name": m.name, "since_ms": m.since_ms} for m in game.members]
    if player in game.member_ids:
        view["ticket"] = game.ticket_id  # GET /v1/tickets/{ticket} (and its events) carries the join token
    if game.match is not None:
        view["match"] = {k: game.match[k] for k in ("match_id", "server_id", "address", "region")}
    return view


# --- request pieces -----------------------------------------------------------------------------

def _game_code(request: web.Request) -> str:
    code = request.match_info["code"]
    if not CODE_RE.match(code):
        raise errors.not_found("game-not-found", "no such game")
    return code


async def _game(svc: Services, code: str) -> Game:
    game = await svc.games.get(code)
    if game is None:
        raise errors.not_found("game-not-found", "no such game (games expire when idle, empty or long started)")
    return game


async def _optional_body(request: web.Request) -> dict[str, Any]:
    """The JSON object sent, or {} when the request has no body."""
    if not request.can_read_body:
        return {}
    return await _body(request)


def _mode(svc: Services, name: Any) -> ModeConfig:
    if not isinstance(name, str):
        raise errors.invalid("mode must be a string")
    mode = svc.modes.get(name)
    if mode is None:
        raise errors.Problem(422, "unknown-mode", "No such game mode", f"modes: {', '.join(sorted(svc.modes))}")
    return mode


def _region(value: Any) -> str:
    if not isinstance(value, str) or not REGION_RE.match(value):
        raise errors.invalid("region must be a region name: 1-32 of a-z, 0-9 and '-'")
    return value


async def _busy_problem(svc: Services, outcome: Outcome) -> errors.Problem:
    ticket = await svc.queue.get(outcome.detail)
    if ticket is not None and ticket.get("game"):
        return in_game(ticket["game"])
    return errors.conflict("player-already-queued", "You have an active ticket; cancel it first",
                           ticket=outcome.detail)


def no_server(detail: str) -> errors.Problem:
    """Nothing is wrong with the request or with us: the fleet has no room for it now (409, not a 5xx)."""
    return errors.conflict("no-server", "No game server can host the game now", detail)


def _not_open(status: str) -> errors.Problem:
    if status == "forming":
        return errors.conflict("game-starting", "The game is starting")
    if status == "matched":
        return errors.conflict("game-started", "The game has started")
    return errors.conflict("game-ended", "The game has ended")


def _problem_of(outcome: str, status: str = "") -> errors.Problem:
    """The answer to a script's refusal that every game route shares."""
    if outcome == "missing":
        return errors.not_found("game-not-found", "no such game")
    if outcome == "not_host":
        return errors.Problem(403, "not-game-host", "Only the game's host may do this")
    if outcome == "not_member":
        return errors.Problem(403, "not-game-member", "You are not in this game")
    return _not_open(status or outcome)


# --- hosting and the lobby browser -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HostRequest:
    mode: ModeConfig
    region: str
    seats: int
    public: bool
    password: str  # "" for none
    map_name: str | None
    options: dict[str, Any]
    ranked: bool


def _parse_host(body: dict[str, Any], svc: Services) -> HostRequest:
    unknown = set(body) - HOST_FIELDS
    if unknown:
        raise errors.invalid(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    mode = _mode(svc, body.get("mode"))
    region = _region(body.get("region"))
    seats = body.get("seats")
    if type(seats) is not int:
        raise errors.invalid("seats must be an integer")
    public = body.get("public", False)
    if not isinstance(public, bool):
        raise errors.invalid("public must be true or false")
    password = body.get("password")
    if password is not None and (not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_CHARS):
        raise errors.invalid(f"password must be 1 to {MAX_PASSWORD_CHARS} characters (or null)")
    map_name = body.get("map")
    if map_name is not None and (not isinstance(map_name, str) or not 1 <= len(map_name) <= MAX_MAP_CHARS):
        raise errors.invalid(f"map must be a map name of 1 to {MAX_MAP_CHARS} characters (or null)")
    options = body.get("options", {})
    if not isinstance(options, dict) or len(options) > MAX_OPTIONS:
        raise errors.invalid(f"options must be an object of at most {MAX_OPTIONS} option names to values")
    ranked = body.get("ranked", False)
    if not isinstance(ranked, bool):
        raise errors.invalid("ranked must be true or false")
    return HostRequest(mode, region, seats, public, password or "", map_name, options, ranked)


async def host_game(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, name = _player(request)
    ask = _parse_host(await _body(request), svc)
    mode, region, seats, password = ask.mode, ask.region, ask.seats, ask.password
    if svc.draining:
        raise errors.Problem(503, "draining", "This replica is shutting down; retry")
    now = _now_ms()
    hosting = sorted((s for s in await svc.registry.live(now) if s.region == region and svc.matcher.hosts(s, mode)),
                     key=lambda s: s.server_id)
    if not hosting:
        raise no_server(f"no live game server in region {region} hosts mode {mode.name} (its options are checked "
                        "against what those servers declare); retry later or choose another region")
    if ask.ranked and (ask.options or ask.map_name is not None):
        # A ranked game counts like a queued one, so it plays the queue mode's own settings.
        raise errors.Problem(422, "invalid-option", "A ranked game plays the mode's own settings",
                             "a ranked game takes no map or options",
                             option="map" if ask.map_name is not None else next(iter(ask.options)))
    try:
        options = gamerules.settle(mode, hosting[0].declarations.get(mode.game_mode), seats, ask.options,
                                   ask.map_name)
    except gamerules.GameSettingError as exc:
        if exc.option is None:
            raise errors.Problem(422, "invalid-seats", "The seats do not fit the mode", str(exc)) from None
        raise errors.Problem(422, "invalid-option", "An option does not fit the mode", str(exc),
                             option=exc.option) from None
    digest = await asyncio.to_thread(svc.passwords.hash, password) if password else ""
    new = NewGame(uuid.uuid4().hex, mode.name, region, seats, ask.public, digest, dict(options), player, name, now,
                  ask.ranked)
    outcome, code = await svc.games.host(new)
    if outcome.kind == "busy":
        raise await _busy_problem(svc, outcome)
    svc.metrics.games.labels(mode.name, "hosted").inc()
    game = await _game(svc, code)
    return http.json_response(game_view(game, player), status=201, headers={"Location": f"/v1/games/{code}"})


async def list_games(request: web.Request) -> web.Response:
    svc = _svc(request)
    _player(request)
    q = request.query
    unknown = set(q) - {"mode", "region", "limit", "cursor"}
    if unknown:
        raise errors.invalid(f"unknown parameters: {', '.join(sorted(unknown))[:200]}")
    mode = _mode(svc, q.get("mode"))
    region = _region(q.get("region"))
    raw_limit = q.get("limit", str(PAGE_DEFAULT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= PAGE_MAX:
        raise errors.invalid(f"limit must be 1 to {PAGE_MAX}")
    cursor = q.get("cursor", "")
    if "cursor" in q and not CURSOR_RE.match(cursor):  # an empty cursor is not the first page
        raise errors.invalid("cursor must be the next value of a previous page")
    games, after = await svc.games.listed(mode.name, region, cursor, int(raw_limit))
    return http.json_response({"items": [game_summary(g) for g in games], "next": after})


async def get_game(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    return http.json_response(game_view(await _game(svc, _game_code(request)), player))


# --- seats ----------------------------------------------------------------------------------------

async def _check_password(svc: Services, game: Game, body: dict[str, Any]) -> None:
    unknown = set(body) - {"password"}
    if unknown:
        raise errors.invalid(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    given = body.get("password")
    if given is not None and not isinstance(given, str):
        raise errors.invalid("password must be a string")
    if not game.password_hash:
        return
    if not given or len(given) > MAX_PASSWORD_CHARS:
        raise errors.Problem(403, "wrong-password", "The password is wrong", "this game needs its password")
    try:
        await asyncio.to_thread(svc.passwords.verify, game.password_hash, given)
    except (VerificationError, InvalidHashError):
        raise errors.Problem(403, "wrong-password", "The password is wrong") from None


async def join_game(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, name = _player(request)
    code = _game_code(request)
    body = await _optional_body(request)
    game = await _game(svc, code)
    if player not in game.member_ids:
        await _check_password(svc, game, body)
    outcome = await svc.games.join(game, player, name, _now_ms())
    if outcome.kind == "busy":
        raise await _busy_problem(svc, outcome)
    if outcome.kind == "full":
        raise errors.conflict("game-full", "Every seat of the game is taken", seats=game.seats)
    if outcome.kind == "locked":
        raise errors.conflict("game-locked", "The host has locked the game")
    if outcome.kind not in ("ok", "member"):
        raise _problem_of(outcome.kind, outcome.detail)
    return http.json_response(game_view(await _game(svc, code), player))


async def _leave(svc: Services, code: str, who: str, by_host: str) -> dict[str, Any]:
    game = await _game(svc, code)
    outcome = await svc.games.leave(game, who, _now_ms(), by_host=by_host)
    if outcome.kind == "not_member" and by_host:
        raise errors.not_found("member-not-found", "that player is not in this game")
    if outcome.kind not in ("left", "empty"):
        raise _problem_of(outcome.kind, outcome.detail)
    return {"left": who, "host": outcome.detail or None, "ended": outcome.kind == "empty"}


async def leave_game(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    return http.json_response(await _leave(svc, _game_code(request), player, ""))


async def kick_member(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    code = _game_code(request)
    body = await _body(request)
    target = body.get("player")
    if set(body) - {"player"} or not isinstance(target, str) or not 1 <= len(target) <= 64:
        raise errors.invalid("send {\"player\": the id of the member to remove}")
    if target == player:
        raise errors.conflict("cannot-kick-host", "The host cannot kick themselves; leave the game instead")
    return http.json_response(await _leave(svc, code, target, player))


async def _set_lock(request: web.Request, locked: bool) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    code = _game_code(request)
    game = await _game(svc, code)
    outcome = await svc.games.lock(game, player, locked, _now_ms())
    if outcome.kind != "ok":
        raise _problem_of(outcome.kind, outcome.detail)
    return http.json_response(game_view(await _game(svc, code), player))


async def lock_game(request: web.Request) -> web.Response:
    return await _set_lock(request, True)


async def unlock_game(request: web.Request) -> web.Response:
    return await _set_lock(request, False)


# --- start ------------------------------------------------------------------------------------------

async def _started(svc: Services, code: str) -> Game | None:
    """The game once another start has placed it, polled for up to :data:`START_WAIT_S`."""
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        game = await svc.games.get(code)
        if game is None or game.status != "forming":
            return game
        await asyncio.sleep(START_POLL_S)
    return None


async def start_game(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    code = _game_code(request)
    game = await _game(svc, code)
    mode = svc.modes.get(game.mode)
    if mode is None:
        raise errors.conflict("unknown-mode", "This matchmaker no longer serves the game's mode")
    match_id = matchids.custom_match_id(code, game.mode, ranked=game.ranked)
    now = _now_ms()
    outcome = await svc.games.begin(game, player, match_id, now, mode.min_players)
    if outcome.kind == "forming":
        placed = await _started(svc, code)
        if placed is None or placed.status == "forming":
            raise errors.conflict("game-starting", "The game is being started; retry")
        if placed.status != "matched":
            raise _problem_of(placed.status)
        return http.json_response(game_view(placed, player))
    if outcome.kind == "too_few":
        raise errors.conflict("not-enough-players", f"Mode {mode.name} needs at least {mode.min_players} players")
    if outcome.kind not in ("ok", "matched"):
        raise _problem_of(outcome.kind, outcome.detail)
    if outcome.kind == "ok":
        await _place(svc, game, mode, match_id, outcome.detail, now)
    return http.json_response(game_view(await _game(svc, code), player))


async def _place(svc: Services, game: Game, mode: ModeConfig, match_id: str, members_json: str, now: int) -> None:
    members = [str(m["id"]) for m in json.loads(members_json)]  # as frozen when the start began
    roster = gamerules.seat_roster(members, mode.teams)
    match = await svc.matcher.allocate(
        mode, match_id, game.region, roster, game.options or None, now,
        accepts=lambda s: gamerules.accepts(s.declarations.get(mode.game_mode), mode, len(roster), game.options))
    if match is None:
        svc.metrics.games.labels(mode.name, "no_server").inc()
        await svc.games.unform(game, match_id)
        raise no_server(f"no live game server in region {game.region} hosts mode {mode.name} with {len(roster)} "
                        "seats free; the game stays open, start it again later")
    if await svc.games.assign(game, match, now):
        svc.metrics.games.labels(mode.name, "started").inc()
    else:  # a start that outlived its forming deadline lost the game to the next one
        await svc.registry.release(match["server_id"], match_id)
