"""``elysium loadtest`` / ``python -m loadtest``: run a scenario, write the reports, gate on thresholds.

Exit status: 0 when every threshold is met, 1 when one is not (or the run had a problem),
2 for a bad scenario or option, 3 when the target cannot be reached or started (nothing
answers at an address the run needs), 130 when interrupted before the run began.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elysium import config as elysium_config
from elysium.config import ConfigError
from loadtest.errors import FlowUnavailable, TargetError, UsageError
from loadtest.settings import LoadTestSettings

if TYPE_CHECKING:
    from loadtest.coordinator import Coordinator
    from loadtest.runner import Target
    from loadtest.scenario import Scenario

EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE, EXIT_TARGET = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


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
    shape.add_argument("--players", type=int, help="simulated players in all (default: the scenario's)")
    shape.add_argument("--ramp-per-s", type=float, help="new players per second (default: the scenario's)")
    shape.add_argument("--duration-s", type=float, help="seconds at full load after the ramp (default: the "
                       "scenario's)")
    shape.add_argument("--room-size", type=int, help="seats per match in the direct flow (default: the scenario's)")
    shape.add_argument("--mode", help="the game mode to play: the direct flow's rooms, the full flow's queue "
                                      "(default: the scenario's, arena); the players send any mode's input from "
                                      "the schema its welcome carries")
    shape.add_argument("--teams", type=int, help="teams per match in the direct flow (default: the scenario's, 0)")
    shape.add_argument("--flow", choices=("direct", "full"), help="direct: development join tokens; full: "
                       "register, queue and get matched (default: the scenario's)")
    shape.add_argument("--retries", type=int, help="reconnects or re-joins per player after a failure (default: "
                       "the scenario's)")
    shape.add_argument("--spectators-per-match", type=int, help="spectators watching each match through the relay "
                       "(default: the scenario's)")
    shape.add_argument("--seed", type=int, help="seed of every behaviour and random choice (default: the "
                       "scenario's)")
    shape.add_argument("--replica-every", type=int, help="one player in this many decodes every message and "
                       "measures its input round trip; 1: every player (default: the scenario's, 10)")
    gates = parser.add_argument_group("thresholds (exit status 1 when one is not met; each replaces the "
                                    "scenario's threshold of that name)")
    gates.add_argument("--max-p99-ms", type=float, help="server-to-client latency p99 must be at most this many ms")
    gates.add_argument("--max-p50-ms", type=float, help="server-to-client latency p50 must be at most this many ms")
    gates.add_argument("--max-input-rtt-p99-ms", type=float, help="input round trip p99 must be at most this many ms")
    gates.add_argument("--max-join-p99-ms", type=float, help="join time p99 must be at most this many ms")
    gates.add_argument("--max-error-rate", type=float, help="errors per simulated player must be at most this "
                       "(0.01: one in a hundred)")
    gates.add_argument("--min-connected-ratio", type=float, help="peak connected players / players must be at "
                       "least this")
    gates.add_argument("--tester-overload", choices=("fail", "warn"), default="fail",
                       help="an overloaded load tester (loop lag over a tick, a worker over 90%% of a core, sends "
                            "late or dropped) fails the run (fail, the default) or is only a warning (warn)")
    dist = parser.add_argument_group("distributed run (the simulated players run on agents: elysium loadtest agent)")
    dist.add_argument("--agents", type=int, default=0, help="agents to wait for; 0: run the workers here")
    dist.add_argument("--coordinator-host", default="0.0.0.0", help="where the coordinator listens for agents "
                      "and serves /metrics (default 0.0.0.0)")
    dist.add_argument("--coordinator-port", type=int, default=7380, help="the coordinator's port (default 7380; "
                      "0: any free port)")
    dist.add_argument("--agent-timeout-s", type=float, default=60.0, help="how long to wait for every agent to "
                      "connect (s, default 60)")
    out = parser.add_argument_group("output")
    out.add_argument("--workers", type=int, help="worker processes (ELYSIUM_LOADTEST_WORKERS; 0: one per core)")
    out.add_argument("--out", help="report directory (ELYSIUM_LOADTEST_OUT_DIR, default loadtest-report)")
    out.add_argument("--json", help="JSON report path (default OUT/report.json)")
    out.add_argument("--html", help="HTML report path (default OUT/report.html)")
    out.add_argument("--quiet", action="store_true", help="no progress output")


def _agent_command(parser: argparse.ArgumentParser) -> None:
    from loadtest.agent import add_agent_command

    sub = parser.add_subparsers(dest="loadtest_command", metavar="{agent}",
                                help="agent: run a share of a distributed run (see --agents)")
    add_agent_command(sub)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("loadtest", help="simulate players against a deployment and report what it holds",
                            allow_abbrev=False)
    _options(parser)
    parser.set_defaults(func=run_command)
    _agent_command(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtest", allow_abbrev=False,
                                     description="Simulate players against an Elysium deployment")
    _options(parser)
    parser.set_defaults(func=run_command)
    _agent_command(parser)
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


def _check_urls(args: argparse.Namespace) -> None:
    """Every address given is a URL of the right kind (a bad one is a usage error: exit 2)."""
    from loadtest.probe import check_url

    if args.url:
        check_url("--url", args.url, ("ws", "wss"))
    for option in ("metrics_url", "commerce_url", "matchmaker_url", "spectator_url"):
        value = getattr(args, option)
        if value:
            check_url("--" + option.replace("_", "-"), value, ("http", "https", "ws", "wss")
                      if option == "spectator_url" else ("http", "https"))


def _check_reachable(target: Target, scenario: Scenario) -> None:
    """Something answers at each address the run needs, else exit 3 before any player starts."""
    from loadtest.probe import check_reachable

    needed: list[tuple[str, str | None]] = [("game server", target.url)]
    if scenario.flow == "full":
        needed += [("commerce service", target.commerce_url), ("matchmaker", target.matchmaker_url)]
    if scenario.spectators_per_match:
        needed.append(("spectator relay", target.spectator_url))
    for what, url in needed:
        if url:  # a missing one was refused as a usage error already
            check_reachable(what, url, scenario.connect_timeout_s)


def prepare(args: argparse.Namespace) -> tuple[Any, LoadTestSettings, dict[str, float]]:
    from loadtest import scenario as scn

    settings = elysium_config.load(LoadTestSettings)
    scenario = scn.load(args.scenario)
    scenario = scn.with_overrides(scenario, players=args.players, ramp_per_s=args.ramp_per_s,
                                  duration_s=args.duration_s, room_size=args.room_size, flow=args.flow,
                                  mode=args.mode, teams=args.teams,
                                  retries=args.retries, seed=args.seed,
                                  spectators_per_match=args.spectators_per_match,
                                  replica_every=args.replica_every)
    limits = dict(scenario.thresholds)
    limits.update(scn.thresholds_from({k: getattr(args, k) for k in THRESHOLD_OPTIONS if getattr(args, k) is not None},
                                      "thresholds on the command line"))
    if args.workers is not None and not 0 <= args.workers <= 256:
        raise UsageError("--workers must be between 0 and 256")
    if not 0 <= args.agents <= 1000:
        raise UsageError("--agents must be between 0 and 1000")
    if not 0 <= args.coordinator_port <= 65535:
        raise UsageError("--coordinator-port must be between 0 and 65535")
    if not 0 < args.agent_timeout_s <= 3600:
        raise UsageError("--agent-timeout-s must be between 0 and 3600")
    if args.redis_url and (problem := elysium_config.redis_url(args.redis_url)):
        raise UsageError(f"--redis-url {problem}")
    return scenario, settings, limits


def run_command(args: argparse.Namespace) -> int:
    from loadtest import htmlreport, report
    from loadtest import summary as end_summary
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
    coordinator: Coordinator | None = None
    try:
        _check_urls(args)
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
        if stack is None:
            _check_reachable(target, scenario)
        if args.agents:
            from loadtest.coordinator import Coordinator, LiveProgress

            coordinator = Coordinator(args.coordinator_host, args.coordinator_port, args.agents)
            coordinator.start()
            progress.note(f"waiting for {args.agents} agent(s) at {coordinator.url} "
                          f"(live metrics: http://{coordinator.host}:{coordinator.port}/metrics)")
            coordinator.wait_for_agents(args.agent_timeout_s)
            result = run(scenario, target, workers=workers, progress=LiveProgress(progress, coordinator),
                         pool=coordinator.pool())
        else:
            result = run(scenario, target, workers=workers, progress=progress)
        stack_problem = stack.problem() if stack is not None else None
        if stack_problem:
            result.failures.append(stack_problem)
    except (UsageError, FlowUnavailable) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TargetError as exc:
        print(f"loadtest: target: {exc}", file=sys.stderr)
        return EXIT_TARGET
    except KeyboardInterrupt:  # once the players run, Ctrl-C stops them and the report is still written
        print("loadtest: interrupted before the run began; nothing was measured", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if coordinator is not None:
            coordinator.stop()
        if stack is not None:
            progress.note("stopping the local stack")
            stack.stop()
    doc = report.build(result)
    doc["thresholds"] = report.check(doc, limits, tester_overload=args.tester_overload)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(htmlreport.render(doc))
    if not args.quiet:
        print("\n" + end_summary.render(doc, unicode=end_summary.can_print_marks(sys.stderr.encoding)),
              file=sys.stderr, flush=True)
    summary = {"event": "loadtest_done", "passed": doc["thresholds"]["passed"], "players": doc["players"],
               "peak_connected": doc["players_peak_connected"], "latency_p50_ms": doc["latency_ms"]["p50"],
               "latency_p95_ms": doc["latency_ms"]["p95"], "latency_p99_ms": doc["latency_ms"]["p99"],
               "input_rtt_p95_ms": doc["input_rtt_ms"]["p95"], "input_rtt_p99_ms": doc["input_rtt_ms"]["p99"],
               "tester_lag_p99_ms": doc["tester_lag_ms"]["p99"], "tester_overloaded": doc["tester"]["overloaded"],
               "inputs_rejected": doc["inputs"]["rejected"],
               "errors": doc["errors"], "warnings": [w["code"] for w in doc["warnings"]], "json": str(json_path),
               "html": str(html_path)}
    print(json.dumps(summary), flush=True)
    for c in doc["thresholds"]["checked"]:
        if not c["ok"]:
            print(f"loadtest: threshold {c['name']} not met: measured {c['value']}, limit {c['limit']}",
                  file=sys.stderr)
    for warning in doc["warnings"]:
        print(f"loadtest: warning: {warning['message']}", file=sys.stderr)
    for failure in doc["failures"]:
        print(f"loadtest: {failure}", file=sys.stderr)
    return EXIT_OK if doc["thresholds"]["passed"] else EXIT_THRESHOLDS


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
