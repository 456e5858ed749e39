"""Live progress: one line rewritten in place on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.1f}{unit}" if isinstance(value, float) else f"{value:,}{unit}"


class Progress:
    def __init__(self, stream: IO[str] | None = None, *, tty: bool | None = None, log_every_s: float = 5.0,
                 enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.log_every_s = log_every_s
        self.enabled = enabled
        self._last_log = 0.0
        self._dirty = False

    def _write(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()

    def start(self, scenario: Any, workers: int, url: str) -> None:
        self.note(f"{scenario.name}: {scenario.players} players at {scenario.ramp_per_s:g}/s for "
                  f"{scenario.duration_s:g} s after the ramp, {workers} worker(s), target {url}")

    def note(self, text: str) -> None:
        if self.tty and self._dirty:
            self._write("\n")
            self._dirty = False
        if self.tty:
            self._write(text + "\n")
        else:
            self._write(json.dumps({"event": "loadtest", "msg": text}) + "\n")

    def row(self, row: dict[str, Any], players: int) -> None:
        if self.tty:
            line = (f"t={row['t']:>6.1f}s  players {row['connected']:>6,}/{players:,}  "
                    f"in {_fmt(row['msgs_in_per_s'])} msg/s  p95/p99 {_fmt(row.get('latency_p95_ms'))}/"
                    f"{_fmt(row['latency_p99_ms'], ' ms')}  rtt p95/p99 {_fmt(row.get('input_rtt_p95_ms'))}/"
                    f"{_fmt(row['input_rtt_p99_ms'], ' ms')}  errors {row['errors']}  "
                    f"cpu tester {_fmt(row['tester_cpu_pct'], '%')} server {_fmt(row['server_cpu_pct'], '%')}  "
                    f"lag p99 {_fmt(row.get('tester_lag_p99_ms'), ' ms')}")
            self._write("\r\x1b[K" + line)
            self._dirty = True
            return
        now = time.monotonic()
        if now - self._last_log >= self.log_every_s:
            self._last_log = now
            self._write(json.dumps({"event": "loadtest_progress", **row}) + "\n")

    def finish(self) -> None:
        if self.tty and self._dirty:
            self._write("\n")
            self._dirty = False
