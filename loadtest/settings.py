"""Load tester settings that may come from the environment (everything else is a command-line option)."""

from __future__ import annotations

from dataclasses import dataclass

from elysium.config import between, setting


@dataclass(frozen=True)
class LoadTestSettings:
    workers: int = setting("ELYSIUM_LOADTEST_WORKERS", 0, "Worker processes for simulated players (0: one per core)",
                           check=between(0, 256))
    out_dir: str = setting("ELYSIUM_LOADTEST_OUT_DIR", "loadtest-report",
                           "Directory for report.json and report.html")
