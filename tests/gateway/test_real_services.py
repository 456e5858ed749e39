"""The gateway in front of the real commerce and butler (their own ``create_app``, the session's
MongoDB and Redis): an account made, read and refused through ``/api/commerce``, a butler chat
streamed through ``/api/butler``, and the status route reading their real ``/readyz``."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from butler.app import create_app as create_butler
from commerce.app import create_app as create_commerce
from tests.butler.test_api import butler_settings
from tests.commerce.conftest import make_settings
from tests.gateway.servers import gateway, serving


async def events(response: aiohttp.ClientResponse) -> list[tuple[str, dict[str, object]]]:
    """The server-sent events of ``response``, in order, with their JSON data."""
    found: list[tuple[str, dict[str, object]]] = []
    async for block in _blocks(response):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], json.loads(fields.get("data", "{}"))))
    return found


async def _blocks(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    buffer = ""
    async for chunk in response.content.iter_any():
        buffer += chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield block


async def test_commerce_and_the_butler_answer_through_the_gateway(mongo_url: str, mongo_db_name: str, redis_url: str,
                                                                  keys_dir: Path) -> None:
    commerce_app = create_commerce(make_settings(mongo_url, mongo_db_name, redis_url, keys_dir))
    async with serving(commerce_app) as commerce:
        butler_app = create_butler(butler_settings(mongo_url, f"{mongo_db_name}_bu", redis_url, keys_dir,
                                                   commerce_url=commerce))
        async with serving(butler_app) as butler, gateway({"commerce": commerce, "butler": butler}) as gw, \
                aiohttp.ClientSession() as s:
            name = f"p{uuid.uuid4().hex[:10]}"
            async with s.post(gw + "/api/commerce/v1/accounts",
                              json={"username": name, "password": "correct horse battery"}) as r:
                assert r.status == 201, await r.text()
                account = await r.json()
            bearer = {"Authorization": f"Bearer {account['access_token']}"}
            async with s.get(gw + "/api/commerce/v1/me", headers=bearer) as r:
                assert r.status == 200
                assert (await r.json())["account_id"] == account["account_id"]
            async with s.get(gw + "/api/commerce/v1/me") as r:
                assert r.status == 401 and r.content_type == "application/problem+json"
            async with s.post(gw + "/api/butler/v1/chat", headers=bearer,
                              json={"message": "how much gold do I have"}) as r:
                assert r.status == 200 and r.content_type == "text/event-stream", await r.text()
                seen = await events(r)
            kinds = [kind for kind, _ in seen]
            assert kinds[0] == "conversation" and kinds[-1] == "done", kinds
            async with s.get(gw + "/api/gateway/v1/status") as r:
                services = (await r.json())["services"]
            assert services["commerce"] == {"ready": True} and services["butler"] == {"ready": True}
            assert services["matchmaker"] == {"ready": False}
