"""The game server's probes behind the shared raw-socket edge: CORS."""

from __future__ import annotations

from typing import Any

from tests.gameserver.rawclient import http_exchange, problem_of

GAME = "https://play.example.com"


async def test_cors_on_the_probes(server_factory: Any, cleanup_servers: None) -> None:
    server = await server_factory(cors_origins=(GAME,))
    answer = await http_exchange(server.port, f"GET /readyz HTTP/1.1\r\nHost: x\r\nOrigin: {GAME}\r\n\r\n".encode())
    assert f"\r\nAccess-Control-Allow-Origin: {GAME}\r\n".encode() in answer and b"\r\nVary: Origin\r\n" in answer
    preflight = await http_exchange(server.port, f"OPTIONS /healthz HTTP/1.1\r\nHost: x\r\nOrigin: {GAME}\r\n"
                                    "Access-Control-Request-Method: GET\r\n\r\n".encode())
    assert preflight.startswith(b"HTTP/1.1 204 ") and b"\r\nAccess-Control-Allow-Methods: GET\r\n" in preflight
    refused = await http_exchange(server.port, b"OPTIONS /healthz HTTP/1.1\r\nHost: x\r\n"
                                  b"Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n\r\n")
    problem_of(refused, 403, "forbidden")


async def test_no_cors_headers_by_default(game_server: Any) -> None:
    answer = await http_exchange(game_server.port, f"GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: {GAME}\r\n\r\n"
                                 .encode())
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Access-Control-" not in answer
