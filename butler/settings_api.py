"""``GET`` and ``PUT /v1/butler/settings``: the player's persona, tone, language, auto-approval, budget."""

from __future__ import annotations

from aiohttp import web

from butler import prefs
from butler.appkeys import SERVICES
from butler.auth import player
from elysium import http


async def get_settings(request: web.Request) -> web.Response:
    who = player(request)
    return http.json_response(prefs.body(await request.app[SERVICES].prefs.get(who.id)))


async def put_settings(request: web.Request) -> web.Response:
    """Any subset of the fields; the others keep their values. A bad field changes nothing (422)."""
    who = player(request)
    svc = request.app[SERVICES]
    update = await http.read_json(request, svc.settings.max_body_bytes)
    return http.json_response(prefs.body(await svc.prefs.update(who.id, update)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/butler/settings", get_settings)
    app.router.add_put("/v1/butler/settings", put_settings)
