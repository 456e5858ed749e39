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
import sys
from collections.abc import Mapping
from pathlib import Path

SEED = 20261202
PHASES = "examples,coverage,fuzzing,stateful"


def _toml_table(values: Mapping[str, str]) -> str:
    return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()) + " }"


def write_config(folder: Path, headers_by_tag: Mapping[str, Mapping[str, str]]) -> Path:
    """A ``schemathesis.toml`` sending each tag's operations its own headers (a token per audience)."""
    lines = ["[generation]", "database = \"none\"", ""]
    for tag, headers in headers_by_tag.items():
        lines += ["[[operations]]", f"include-tag = {json.dumps(tag)}", f"headers = {_toml_table(headers)}", ""]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines))
    return path


async def run(base_url: str, folder: Path, *, max_examples: int,
              headers_by_tag: Mapping[str, Mapping[str, str]] | None = None, phases: str = PHASES,
              seed: int = SEED, timeout_s: float = 150.0) -> str:
    """Fuzz the document served at ``base_url``/v1/openapi.json; fail with the report on any finding."""
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, headers_by_tag or {})
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
            f"{base_url}/v1/openapi.json", "--checks", "all", "--phases", phases, "--seed", str(seed),
            "--max-examples", str(max_examples), "--workers", "1", "--request-timeout", "10",
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
