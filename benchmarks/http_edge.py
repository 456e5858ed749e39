"""What the shared HTTP edge costs per request, against a bare aiohttp middleware.

One process serves a JSON handler behind either the edge (``elysium.http.application`` with
the request metric, as commerce and the matchmaker run it) or a middleware that only passes
the request on (what the matchmaker had before the edge); one keep-alive client in the same
process sends requests one at a time. The figure is CPU per request, client included, so only
differences between the variants mean anything. Run pinned to one core::

    taskset -c 0 .venv/bin/python benchmarks/http_edge.py --requests 30000 --rounds 3

Prints one JSON line per run and a summary with the best run of each variant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvloop
from aiohttp import web

from elysium import http, logs
from elysium.metrics import Metrics

REQUEST = b"POST /v1/tickets HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def answer(request: web.Request) -> web.Response:
    return http.json_response({"ok": True})


@web.middleware
async def bare(request: web.Request, handler: http.Handler) -> web.StreamResponse:
    return await handler(request)


def make_app(variant: str) -> web.Application:
    if variant == "edge":
        app = http.application(observe=http.RequestMetrics(Metrics("bench")).observe)
    else:
        app = web.Application(middlewares=[bare])
    app.router.add_post("/v1/tickets", answer)
    return app


async def one_run(variant: str, requests: int) -> dict[str, object]:
    runner = web.AppRunner(make_app(variant), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def exchange() -> None:
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)

    try:
        for _ in range(500):  # warm up
            await exchange()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            await exchange()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        writer.close()
        await runner.cleanup()
    return {"variant": variant, "requests": requests, "cpu_us_per_request": round(cpu / requests * 1e6, 1),
            "wall_us_per_request": round(wall / requests * 1e6, 1)}


async def main(args: argparse.Namespace) -> None:
    logs.setup("bench", "warning")
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for variant in ("bare", "edge"):
            result = await one_run(variant, args.requests)
            print(json.dumps(result), flush=True)
            cost = float(str(result["cpu_us_per_request"]))
            best[variant] = min(best.get(variant, cost), cost)
    print(json.dumps({"best_cpu_us_per_request": best, "edge_minus_bare_us": round(best["edge"] - best["bare"], 1)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30_000, help="requests per run (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant, alternating (default %(default)s)")
    uvloop.run(main(parser.parse_args()))
