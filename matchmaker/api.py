"""The HTTP API under ``/v1`` (``openapi.json`` describes it; a test keeps the two in step)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from aiohttp import web

from elysium import http, tokens
from matchmaker import errors
from matchmaker.app import MAX_BODY_BYTES, SERVICES, Services
from matchmaker.tickets import FINAL, NewTicket

REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
TICKET_RE = re.compile(r"^[0-9a-f]{32}$")
CODE_RE = re.compile(r"^[A-Z0-9]{6}$")
MAX_REGIONS = 8
KEEPALIVE_S = 15.0
SUBSCRIBE_WAIT_S = 2.0


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/tickets", create_ticket)
    app.router.add_get("/v1/tickets/{ticket_id}", get_ticket)
    app.router.add_delete("/v1/tickets/{ticket_id}", cancel_ticket)
    app.router.add_get("/v1/tickets/{ticket_id}/events", ticket_events)
    app.router.add_get("/v1/queues", queues)
    app.router.add_post("/v1/parties", create_party)
    app.router.add_get("/v1/parties/{code}", get_party)
    app.router.add_post("/v1/parties/{code}/members", join_party)
    app.router.add_delete("/v1/parties/{code}/members/me", leave_party)
    app.router.add_get("/v1/players/me/ratings", my_ratings)


# --- request pieces --------------------------------------------------------------------------

def _svc(request: web.Request) -> Services:
    return request.app[SERVICES]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _player(request: web.Request, *, allow_query: bool = False) -> tuple[str, str]:
    """(player id, display name) from the Bearer access token."""
    token = http.bearer(request, query="access_token" if allow_query else None)  # EventSource cannot set headers
    claims = _svc(request).auth.claims(token)
    player = claims["sub"]
    if not 1 <= len(player) <= 64:
        raise http.invalid_token("token_claims", "player id must be 1 to 64 characters")
    name = claims.get("name")
    return player, (name if isinstance(name, str) and 1 <= len(name) <= 32 else player)


async def _body(request: web.Request) -> dict[str, Any]:
    body = await http.read_json(request, MAX_BODY_BYTES)
    if not isinstance(body, dict):
        raise errors.invalid("the body must be a JSON object")
    return body


def _ticket_id(request: web.Request) -> str:
    ticket_id = request.match_info["ticket_id"]
    if not TICKET_RE.match(ticket_id):
        raise errors.not_found("ticket-not-found", "no such ticket")
    return ticket_id


def _public_status(status: str) -> str:
    return "queued" if status == "forming" else status  # forming may still fall back to queued


def ticket_view(svc: Services, ticket: dict[str, str], player: str) -> dict[str, Any]:
    players = json.loads(ticket["players"])
    game = ticket.get("game") or None
    status = "hosted" if game and ticket["status"] == "forming" else _public_status(ticket["status"])
    view: dict[str, Any] = {
        "id": ticket["id"], "mode": ticket["mode"], "status": status, "game": game,
        "players": [p["id"] for p in players], "leader": ticket["leader"], "party": ticket["party"] or None,
        "regions": {r: lat for r, lat in json.loads(ticket["regions"])},
        "accept_fallback": ticket.get("fallback") == "1",
        "created_ms": int(ticket["created_ms"]), "expires_ms": int(ticket["expires_ms"]),
    }
    if ticket.get("reason") and ticket["status"] in ("cancelled", "expired"):
        view["reason"] = ticket["reason"]
    if ticket["status"] == "matched":
        match = json.loads(ticket["match"])
        room = match["room"]
        team = next((t for pid, t in room["roster"] if pid == player), 0)
        name = next((p.get("name") or p["id"] for p in players if p["id"] == player), player)
        ttl = svc.settings.join_token_ttl_s
        issued = time.time()
        token = svc.signer.issue(player, tokens.JOIN_AUDIENCE, ttl,
                                 {"mid": match["match_id"], "srv": match["server_id"], "name": name, "room": room},
                                 now=issued)
        view["match"] = {
            "match_id": match["match_id"], "server_id": match["server_id"], "address": match["address"],
            "region": match["region"], "team": team, "roster": room["roster"],
            "join_token": token, "join_token_expires_ms": int((int(issued) + ttl) * 1000),
        }
    return view


async def _own_ticket(request: web.Request) -> tuple[Services, str, dict[str, str]]:
    svc = _svc(request)
    player, _ = _player(request, allow_query=request.path.endswith("/events"))
    ticket_id = _ticket_id(request)
    ticket = await svc.queue.get(ticket_id)
    if ticket is None:
        raise errors.not_found("ticket-not-found", "no such ticket (tickets are kept a while after they end)")
    if player not in [p["id"] for p in json.loads(ticket["players"])]:
        raise errors.Problem(403, "not-your-ticket", "This ticket belongs to other players")
    return svc, player, ticket


# --- tickets ---------------------------------------------------------------------------------

def _parse_ticket_request(body: dict[str, Any], modes: dict[str, Any]) -> tuple[str, list[tuple[str, float]], str,
                                                                                  bool]:
    allowed = {"mode", "regions", "party", "accept_fallback"}
    unknown = set(body) - allowed
    if unknown:
        raise errors.invalid(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    mode = body.get("mode")
    if not isinstance(mode, str):
        raise errors.invalid("mode must be a string")
    if mode not in modes:
        raise errors.Problem(422, "unknown-mode", "No such game mode", f"modes: {', '.join(sorted(modes))}")
    regions = body.get("regions")
    if not isinstance(regions, dict) or not 1 <= len(regions) <= MAX_REGIONS:
        raise errors.invalid(f"regions must map 1 to {MAX_REGIONS} region names to measured latency in ms")
    parsed = []
    for name, latency in regions.items():
        if not REGION_RE.match(name):
            raise errors.invalid("region names are 1-32 of a-z, 0-9 and '-'")
        if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency <= 10_000:
            raise errors.invalid("region latency must be a number of ms between 0 and 10000")
        parsed.append((name, float(latency)))
    parsed.sort(key=lambda r: (r[1], r[0]))
    party = body.get("party")
    if party is None:
        party = ""  # absent or null: the caller alone
    elif not isinstance(party, str) or not CODE_RE.match(party):
        raise errors.invalid("party must be a party code (or null)")
    fallback = body.get("accept_fallback", False)
    if not isinstance(fallback, bool):
        raise errors.invalid("accept_fallback must be true or false")
    return mode, parsed, party, fallback


async def create_ticket(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, name = _player(request)
    mode_name, regions, code, fallback = _parse_ticket_request(await _body(request), svc.modes)
    if svc.draining:
        raise errors.Problem(503, "draining", "This replica is shutting down; retry")
    mode = svc.modes[mode_name]
    members: list[dict[str, str]] = [{"id": player, "name": name}]
    members_json = ""
    if code:
        party = await svc.parties.get(code)
        if party is None:
            raise errors.not_found("party-not-found", "no such party")
        if party.leader != player:
            raise errors.Problem(403, "not-party-leader", "Only the party's leader queues the party")
        members, members_json = list(party.members), party.members_json
    if len(members) > mode.largest_party:
        existing = await _existing_ticket(svc, player)
        if existing is not None:
            return existing
        raise errors.conflict("party-too-large", "The party does not fit in one team of this mode",
                              f"{mode.name} takes parties of at most {mode.largest_party}")
    ratings = await svc.ratings.get_many(mode.name, [m["id"] for m in members])
    new = NewTicket(uuid.uuid4().hex, mode.name, player, code, members_json,
                    tuple({"id": m["id"], "name": m["name"], "rating": round(ratings[m["id"]].mu, 4)}
                          for m in members),
                    tuple(regions), fallback, _now_ms())
    # The create script refuses when any player already has an active ticket, in the same step.
    created = await svc.queue.create(new)
    if created.party_changed:
        raise errors.conflict("party-changed", "The party changed while it was being queued; retry")
    if not created.created:
        if created.blocked_player == player:
            ticket = await svc.queue.get(created.ticket_id)
            if ticket is not None and ticket.get("game"):
                raise in_game(ticket["game"])
            if ticket is not None:
                svc.metrics.tickets.labels(mode.name, "existing").inc()
                return http.json_response(ticket_view(svc, ticket, player), status=200)
        raise errors.conflict("player-already-queued", "A party member already has an active ticket",
                              player=created.blocked_player)
    svc.metrics.tickets.labels(mode.name, "created").inc()
    return http.json_response(ticket_view(svc, svc.queue.as_stored(new), player), status=201,
                             headers={"Location": f"/v1/tickets/{new.ticket_id}"})


def in_game(code: str) -> errors.Problem:
    return errors.conflict("already-in-game", "You are in a custom game; leave it first", game=code)


async def _existing_ticket(svc: Services, player: str) -> web.Response | None:
    existing = await svc.queue.active_ticket_of(player)
    ticket = await svc.queue.get(existing) if existing else None
    if ticket is not None and ticket.get("game"):
        raise in_game(ticket["game"])
    return http.json_response(ticket_view(svc, ticket, player), status=200) if ticket else None


async def get_ticket(request: web.Request) -> web.Response:
    svc, player, ticket = await _own_ticket(request)
    return http.json_response(ticket_view(svc, ticket, player))


async def cancel_ticket(request: web.Request) -> web.Response:
    svc, player, ticket = await _own_ticket(request)
    if ticket.get("game") and ticket["status"] not in FINAL:
        raise errors.conflict("custom-game-ticket", "This ticket is a custom game's; leave the game instead",
                              game=ticket["game"])
    if ticket["status"] in FINAL:
        raise errors.conflict("ticket-final", f"The ticket is already {ticket['status']}", status_now=ticket["status"])
    outcome = await svc.queue.cancel(ticket, now_ms=_now_ms())
    if outcome != "ok":
        raise errors.conflict("ticket-final", f"The ticket is already {outcome}", status_now=outcome)
    svc.metrics.cancelled.inc()
    after = await svc.queue.get(ticket["id"]) or ticket
    return http.json_response(ticket_view(svc, after, player))


async def ticket_events(request: web.Request) -> web.StreamResponse:
    svc, player, ticket = await _own_ticket(request)
    ticket_id = ticket["id"]
    # Listen first, then read: a change between the two is either in the read or wakes us.
    wake = svc.events.listen(ticket_id)
    resp = http.stream_response(request, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})
    svc.metrics.sse.inc()
    try:
        try:
            await asyncio.wait_for(svc.events.ready.wait(), SUBSCRIBE_WAIT_S)
        except TimeoutError:
            pass  # without the subscription the stream still re-reads at every keepalive
        current: dict[str, str] | None = await svc.queue.get(ticket_id)
        await resp.prepare(request)
        last = ""
        while current is not None:  # None: the ticket's record expired
            view = ticket_view(svc, current, player)
            if view["status"] != last:
                last = view["status"]
                await resp.write(f"event: {last}\ndata: {json.dumps(view)}\n\n".encode())
            if current["status"] in FINAL or svc.stop.is_set():
                break
            try:
                await asyncio.wait_for(wake.get(), KEEPALIVE_S)
            except TimeoutError:
                await resp.write(b": keepalive\n\n")
            current = await svc.queue.get(ticket_id)
    except ConnectionResetError:
        pass  # the client went away
    finally:
        svc.events.unlisten(ticket_id, wake)
        svc.metrics.sse.dec()
    return resp


def _percentile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0, 3)


async def queues(request: web.Request) -> web.Response:
    svc = _svc(request)
    stats = await svc.queue.stats(list(svc.modes))
    out = []
    for mode, (waiting, waits) in stats.items():
        out.append({"mode": mode, "players_waiting": sum(waiting.values()), "regions": waiting,
                    "recent_matched_tickets": len(waits), "wait_p50_s": _percentile(waits, 0.5),
                    "wait_p90_s": _percentile(waits, 0.9)})
    return http.json_response({"modes": out})


# --- parties ---------------------------------------------------------------------------------

async def _party_view(svc: Services, code: str, player: str) -> dict[str, Any]:
    party = await svc.parties.get(code)
    if party is None:
        raise errors.not_found("party-not-found", "no such party")
    if player not in [m["id"] for m in party.members]:
        raise errors.Problem(403, "not-party-member", "Only members see a party")
    ticket = await svc.queue.get(party.ticket) if party.ticket else None
    return {"code": party.code, "leader": party.leader, "members": list(party.members),
            "expires_ms": party.expires_ms,
            "ticket": {"id": ticket["id"], "status": _public_status(ticket["status"]), "mode": ticket["mode"]}
            if ticket else None}


def _code(request: web.Request) -> str:
    code = request.match_info["code"]
    if not CODE_RE.match(code):
        raise errors.not_found("party-not-found", "no such party")
    return code


async def create_party(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, name = _player(request)
    kind, code = await svc.parties.create(player, name, _now_ms())
    if kind == "in_party":
        raise errors.conflict("already-in-party", "You are already in a party; leave it first", party=code)
    return http.json_response(await _party_view(svc, code, player), status=201,
                             headers={"Location": f"/v1/parties/{code}"})


async def get_party(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    return http.json_response(await _party_view(svc, _code(request), player))


async def join_party(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, name = _player(request)
    code = _code(request)
    party = await svc.parties.get(code)
    if party is None:
        raise errors.not_found("party-not-found", "no such party")
    if party.ticket:
        ticket = await svc.queue.get(party.ticket)
        if ticket is not None and ticket["status"] in ("queued", "forming"):
            raise errors.conflict("party-queued", "The party is in a queue; join after its ticket ends")
    outcome = await svc.parties.join(code, player, name)
    if outcome == "missing":
        raise errors.not_found("party-not-found", "no such party")
    if outcome == "full":
        raise errors.conflict("party-full", f"The party has {svc.settings.party_max_size} members already")
    if outcome == "in_party":
        raise errors.conflict("already-in-party", "You are in another party; leave it first")
    return http.json_response(await _party_view(svc, code, player))


async def leave_party(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    code = _code(request)
    party = await svc.parties.get(code)
    outcome = await svc.parties.leave(code, player)
    if outcome == "missing":
        raise errors.not_found("party-not-found", "no such party")
    if outcome == "not_member":
        raise errors.Problem(403, "not-party-member", "You are not in this party")
    if outcome == "retry":
        raise errors.conflict("party-changed", "The party kept changing; retry")
    cancelled = None
    if party is not None and party.ticket:  # the queued party is no longer the party that queued
        ticket = await svc.queue.get(party.ticket)
        if ticket is not None and ticket["status"] in ("queued", "forming"):
            if await svc.queue.cancel(ticket, reason="party_changed", now_ms=_now_ms()) == "ok":
                cancelled = ticket["id"]
    return http.json_response({"left": True, "disbanded": outcome == "disbanded", "cancelled_ticket": cancelled})


# --- ratings ---------------------------------------------------------------------------------

async def my_ratings(request: web.Request) -> web.Response:
    svc = _svc(request)
    player, _ = _player(request)
    docs = await svc.ratings.of_player(player, svc.modes)
    out = {}
    for mode in svc.modes:
        d = docs.get(mode)
        mu, sigma = (float(d["mu"]), float(d["sigma"])) if d else (25.0, 25.0 / 3)
        out[mode] = {"mu": round(mu, 4), "sigma": round(sigma, 4), "ordinal": round(mu - 3 * sigma, 4),
                     "matches": int(d["matches"]) if d else 0}
    return http.json_response({"player_id": player, "ratings": out})
