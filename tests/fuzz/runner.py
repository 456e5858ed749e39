"""Run schemathesis against a served OpenAPI document, as a child process with a fixed seed.

Schemathesis' pytest integration builds synchronous tests; the services under test run on
the test's own event loop (the same fixtures as their own suites), so a synchronous request
from the test would block the server it waits for. The CLI, run as a child process while
the loop goes on serving, has no such problem and runs every phase (examples, coverage,
fuzzing, stateful) and every check.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

SEED = 20261202
PHASES = "examples,coverage,fuzzing,stateful"
TIMEOUT_S = 240.0  # one run at most (the largest takes about 40 s on an idle machine, twice that on a busy one)


# What a schema-valid request may be answered besides schemathesis' defaults (2xx, 3xx, 401,
# 403, 404, 409, 429, 5xx). 422 idempotency-key-reused: the same Idempotency-Key on another
# body (the IETF Idempotency-Key draft's answer), which a generator picking keys at random
# cannot avoid; the request itself is well formed.
IDEMPOTENT_ACCEPTS = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]
# A generated Stripe-Signature never matches: the webhook's valid-looking requests are refused 400.
WEBHOOK_ACCEPTS = {"receivePaymentWebhook": ["2xx", "400", "404", "422"]}


def write_config(folder: Path, tokens: Mapping[str, str], accepts: Mapping[str, list[str]],
                 exempt: Mapping[str, tuple[str, str]], stream_events: Mapping[str, int] | None = None) -> Path:
    """A ``schemathesis.toml``: each security scheme's bearer token, per-operation accepted
    statuses and check exemptions, one event read from a server-sent event stream (or, for an
    operation id of ``stream_events``, that many: a stream that ends by itself is read whole)."""
    lines = ["max-stream-events = 1", "", "[generation]", 'database = "none"', ""]
    for operation_id, count in (stream_events or {}).items():
        lines += ["[[operations]]", f"include-operation-id = {json.dumps(operation_id)}",
                  f"max-stream-events = {count:d}", ""]
    for scheme, token in tokens.items():
        lines += [f"[auth.openapi.{scheme}]", f"bearer = {json.dumps(token)}", ""]
    for operation_id, statuses in accepts.items():
        lines += ["[[operations]]", f"include-operation-id = {json.dumps(operation_id)}",
                  f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}", ""]
    for operation_id, (check, _why) in exempt.items():
        lines += ["[[operations]]", f"include-operation-id = {json.dumps(operation_id)}",
                  f"checks.{check}.enabled = false", ""]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines))
    return path


async def run(base_url: str, folder: Path, *, max_examples: int,
              tokens: Mapping[str, str] | None = None, accepts: Mapping[str, list[str]] | None = None,
              exempt: Mapping[str, tuple[str, str]] | None = None, stream_events: Mapping[str, int] | None = None,
              phases: str = PHASES, seed: int = SEED, timeout_s: float = TIMEOUT_S) -> str:
    """Fuzz the document served at ``base_url``/v1/openapi.json; fail with the report on any finding.

    ``tokens`` maps security scheme names to bearer tokens; without them every protected
    operation is tried without credentials (and must refuse with 401). ``accepts`` widens
    what a valid request may be answered for an operation id; ``exempt`` turns one check off
    for one operation id, with the reason (each is a rule the check cannot know);
    ``stream_events`` reads more than the first event of an operation's event stream.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, tokens or {}, accepts or {}, exempt or {}, stream_events)
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
            f"{base_url}/v1/openapi.json", "--phases", phases, "--seed", str(seed),
            "--max-examples", str(max_examples), "--workers", "1", "--request-timeout", "5",
            "--suppress-health-check", "too_slow", "--output-truncate", "false"]
    proc = await asyncio.create_subprocess_exec(*args, cwd=folder, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT,
                                                env={**os.environ, "PYTHONHASHSEED": "0"})
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"schemathesis did not finish within {timeout_s:g} s") from None
    report = out.decode(errors="replace")
    assert proc.returncode == 0, f"schemathesis found problems (exit {proc.returncode}):\n{report[-30000:]}"
    return report


def generated(report: str) -> int:
    """How many test cases the run generated (its summary's "N generated")."""
    found = re.search(r"(\d+) generated", report)
    assert found, report[-3000:]
    return int(found.group(1))
