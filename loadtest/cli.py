"""``elysium loadtest`` / ``python -m loadtest``: run a scenario, write the reports, gate on thresholds.

Exit status: 0 when every threshold is met, 1 when one is not (or the run had a problem),
2 for a bad scenario or option, 3 when the target cannot be reached or started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elysium import config as elysium_config
from elysium.config import ConfigError
from loadtest.errors import FlowUnavailable, TargetError, UsageError
from loadtest.settings import LoadTestSettings

EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE, EXIT_TARGET = 0, 1, 2, 3


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="smoke", help="shipped scenario name (smoke, capacity) or a .toml file")
    target = parser.add_argument_group("target (no --url: start the local stack and target it)")
    target.add_argument("--url", help="game server websocket URL, e.g. ws://host:7350/v1/play")
    target.add_argument("--server-id", help="the game server's registry id that join tokens are bound to "
                        "(default: from the registry when --redis-url is given, else local-1)")
    target.add_argument("--redis-url", help="the deployment's Redis, to look the server id up in the registry")
    target.add_argument("--join-key-file", default=None,
                        help="Ed25519 private key for development join tokens (ELYSIUM_JOIN_PRIVATE_KEY_FILE, "
                             "default .elysium/keys/join.key)")
    target.add_argument("--metrics-url", help="the game server's /metrics (default: derived from --url)")
    target.add_argument("--server-pid", type=int, help="game server process id on this machine, to sample its CPU")
    target.add_argument("--commerce-url", help="commerce base URL (full flow)")
    target.add_argument("--matchmaker-url", help="matchmaker base URL (full flow)")
    target.add_argument("--spectator-url", help="spectator relay base URL (spectators_per_match > 0)")
    target.add_argument("--state-dir", help="where a started local stack keeps its files (default: a temporary "
                        "directory, removed afterwards)")
    shape = parser.add_argument_group("scenario overrides")
    shape.add_argument("--players", type=int)
    shape.add_argument("--ramp-per-s", type=float, help="new players per second")
    shape.add_argument("--duration-s", type=float, help="seconds at full load after the ramp")
    shape.add_argument("--room-size", type=int)
    shape.add_argument("--flow", choices=("direct", "full"))
    shape.add_argument("--retries", type=int)
    shape.add_argument("--spectators-per-match", type=int)
    shape.add_argument("--seed", type=int)
    gates = parser.add_argument_group("thresholds (exit status 1 when one is not met)")
    gates.add_argument("--max-p99-ms", type=float)
    gates.add_argument("--max-p50-ms", type=float)
    gates.add_argument("--max-input-rtt-p99-ms", type=float)
    gates.add_argument("--max-join-p99-ms", type=float)
    gates.add_argument("--max-error-rate", type=float)
    gates.add_argument("--min-connected-ratio", type=float)
    out = parser.add_argument_group("output")
    out.add_argument("--workers", type=int, help="worker processes (ELYSIUM_LOADTEST_WORKERS; 0: one per core)")
    out.add_argument("--out", help="report directory (ELYSIUM_LOADTEST_OUT_DIR, default loadtest-report)")
    out.add_argument("--json", help="JSON report path (default OUT/report.json)")
    out.add_argument("--html", help="HTML report path (default OUT/report.html)")
    out.add_argument("--quiet", action="store_true", help="no progress output")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("loadtest", help="simulate players against a deployment and report what it holds")
    _options(parser)
    parser.set_defaults(func=run_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtest",
                                     description="Simulate players against an Elysium deployment")
    _options(parser)
    parser.set_defaults(func=run_command)
    return parser


THRESHOLD_OPTIONS = ("max_p99_ms", "max_p50_ms", "max_input_rtt_p99_ms", "max_join_p99_ms", "max_error_rate",
                     "min_connected_ratio")


def _server_id_from_registry(redis_url: str, play_url: str) -> str:
    import redis

    from elysium import keys, redisclient, redisreply

    try:
        client = redisclient.connect_sync(redis_url, max_connections=1)
        try:
            ids = redisreply.texts(client.zrange(keys.SERVERS_LIVE, 0, -1))
            found = []
            for ident in ids:
                raw = redisreply.optional_blob(client.get(keys.server(ident)))
                if raw:
                    info = json.loads(raw)
                    found.append((ident, info.get("address")))
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise TargetError(f"cannot read the game server registry at --redis-url: {exc}") from None
    for ident, address in found:
        if address == play_url:
            return ident
    if len(found) == 1:
        return found[0][0]
    raise TargetError(f"no live game server in the registry advertises {play_url} "
                      f"({len(found)} live); give --server-id")


def prepare(args: argparse.Namespace) -> tuple[Any, LoadTestSettings, dict[str, float]]:
    from loadtest import scenario as scn

    settings = elysium_config.load(LoadTestSettings)
    scenario = scn.load(args.scenario)
    scenario = scn.with_overrides(scenario, players=args.players, ramp_per_s=args.ramp_per_s,
                                  duration_s=args.duration_s, room_size=args.room_size, flow=args.flow,
                                  retries=args.retries, seed=args.seed,
                                  spectators_per_match=args.spectators_per_match)
    limits = dict(scenario.thresholds)
    limits.update(scn.thresholds_from({k: getattr(args, k) for k in THRESHOLD_OPTIONS if getattr(args, k) is not None},
                                      "thresholds on the command line"))
    if args.workers is not None and not 0 <= args.workers <= 256:
        raise UsageError("--workers must be between 0 and 256")
    if args.redis_url and (problem := elysium_config.redis_url(args.redis_url)):
        raise UsageError(f"--redis-url {problem}")
    return scenario, settings, limits


def run_command(args: argparse.Namespace) -> int:
    from loadtest import htmlreport, report
    from loadtest.flows import full_flow_missing
    from loadtest.progress import Progress
    from loadtest.runner import Target, default_workers, run
    from loadtest.serverstats import metrics_url_for
    from loadtest.stack import LocalStack

    try:
        scenario, settings, limits = prepare(args)
    except (UsageError, ConfigError) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    workers = args.workers if args.workers is not None else settings.workers
    workers = workers or default_workers()
    out_dir = Path(args.out or settings.out_dir)
    json_path = Path(args.json) if args.json else out_dir / "report.json"
    html_path = Path(args.html) if args.html else out_dir / "report.html"
    progress = Progress(enabled=not args.quiet)
    stack: LocalStack | None = None
    try:
        if args.url:
            server_id = args.server_id or (_server_id_from_registry(args.redis_url, args.url)
                                           if args.redis_url else "local-1")
            key_file = args.join_key_file or os.environ.get("ELYSIUM_JOIN_PRIVATE_KEY_FILE") or ".elysium/keys/join.key"
            target = Target(url=args.url, server_id=server_id, join_key_file=key_file,
                            metrics_url=args.metrics_url or metrics_url_for(args.url), server_pid=args.server_pid,
                            commerce_url=args.commerce_url, matchmaker_url=args.matchmaker_url,
                            spectator_url=args.spectator_url)
        else:
            seats = scenario.players + scenario.room_size
            stack = LocalStack(args.state_dir, env={
                "ELYSIUM_MAX_PLAYERS": str(max(3000, seats)),
                "ELYSIUM_MAX_ROOMS": str(max(500, scenario.matches + 10)),
                "ELYSIUM_MAX_SEATS_PER_ROOM": str(max(100, scenario.room_size)),
                "ELYSIUM_DRAIN_TIMEOUT_S": "2",
            })
            progress.note("starting the local stack (elysium up)")
            services = stack.start()
            target = Target(url=stack.play_url, server_id=stack.server_id, join_key_file=stack.join_key_file,
                            metrics_url=metrics_url_for(stack.play_url), server_pid=stack.gameserver_pid(),
                            started_stack=True, commerce_url=args.commerce_url or services.get("commerce"),
                            matchmaker_url=args.matchmaker_url or services.get("matchmaker"),
                            spectator_url=args.spectator_url or services.get("spectator"))
        if scenario.flow == "full":
            missing = full_flow_missing(target.commerce_url, target.matchmaker_url)
            if missing:
                raise FlowUnavailable(missing)
        if scenario.spectators_per_match and not target.spectator_url:
            raise UsageError("spectators_per_match needs a spectator relay (give --spectator-url)")
        if scenario.spectators_per_match and scenario.flow != "direct":
            raise UsageError("spectators are only simulated in the direct flow in this version")
        if scenario.flow == "direct" and not Path(target.join_key_file).is_file():
            raise UsageError(f"join key file {target.join_key_file} does not exist (give --join-key-file)")
        result = run(scenario, target, workers=workers, progress=progress)
    except (UsageError, FlowUnavailable) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TargetError as exc:
        print(f"loadtest: target: {exc}", file=sys.stderr)
        return EXIT_TARGET
    finally:
        if stack is not None:
            progress.note("stopping the local stack")
            stack.stop()
    doc = report.build(result)
    doc["thresholds"] = report.check(doc, limits)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(htmlreport.render(doc))
    summary = {"event": "loadtest_done", "passed": doc["thresholds"]["passed"], "players": doc["players"],
               "peak_connected": doc["players_peak_connected"], "latency_p99_ms": doc["latency_ms"]["p99"],
               "input_rtt_p99_ms": doc["input_rtt_ms"]["p99"], "errors": doc["errors"], "json": str(json_path),
               "html": str(html_path)}
    print(json.dumps(summary), flush=True)
    for c in doc["thresholds"]["checked"]:
        if not c["ok"]:
            print(f"loadtest: threshold {c['name']} not met: measured {c['value']}, limit {c['limit']}",
                  file=sys.stderr)
    for failure in doc["failures"]:
        print(f"loadtest: {failure}", file=sys.stderr)
    return EXIT_OK if doc["thresholds"]["passed"] else EXIT_THRESHOLDS


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
