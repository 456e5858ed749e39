"""What the server under test says about itself: its Prometheus /metrics and its CPU.

The game server serves ``/metrics`` on its websocket port, so the metrics URL follows from
the play URL. CPU is read from ``/proc/<pid>/stat`` when the server runs on this machine
and its process id is known (a stack the load tester started, or ``--server-pid``).
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')

# Game server metrics the report compares with its own counts.
GAMESERVER_COUNTERS = {
    "frames_out": "elysium_gameserver_frames_out_total",
    "bytes_out": "elysium_gameserver_sent_bytes_total",
    "frames_dropped": "elysium_gameserver_frames_dropped_total",
    "inputs": "elysium_gameserver_inputs_total",
    "connections": "elysium_gameserver_connections_total",
    "joins_ok": 'elysium_gameserver_joins_total{outcome="ok"}',
    "slow_clients_closed": "elysium_gameserver_slow_clients_closed_total",
    "ticks": "elysium_gameserver_ticks_total",
    "ticks_skipped": "elysium_gameserver_ticks_skipped_total",
    "rejected_inputs": "elysium_gameserver_rejected_inputs_total",
}
_REJECTED = re.compile(r'^elysium_gameserver_rejected_inputs_total\{(?:.*,)?reason="([^"]*)"')
GAMESERVER_GAUGES = {"players": "elysium_gameserver_players", "players_connected": "elysium_gameserver_players_connected"}


def metrics_url_for(play_url: str) -> str:
    parts = urlsplit(play_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/metrics", "", ""))


def parse_prometheus(text: str) -> dict[str, float]:
    """``name{labels}`` -> value for every sample in a text exposition."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _SAMPLE.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                continue
    return out


def scrape(url: str, timeout_s: float = 2.0) -> dict[str, float] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (operator-given URL)
            return parse_prometheus(resp.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def gameserver_view(samples: dict[str, float] | None) -> dict[str, float] | None:
    """The game server's counters and gauges we report, summed over label values where needed, and
    the rejected inputs by reason (``rejected_inputs.<reason>``)."""
    if samples is None:
        return None
    out: dict[str, float] = {}
    for key, name in {**GAMESERVER_COUNTERS, **GAMESERVER_GAUGES}.items():
        if "{" in name:
            out[key] = samples.get(name, 0.0)
        else:
            out[key] = sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))
    for sample, value in samples.items():  # rejected inputs by reason: "rejected_inputs.rate", ...
        m = _REJECTED.match(sample)
        if m:
            out[f"rejected_inputs.{m.group(1)}"] = out.get(f"rejected_inputs.{m.group(1)}", 0.0) + value
    return out


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (None when it is gone or not on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None


def find_descendant(root_pid: int, needle: str) -> int | None:
    """The first descendant of ``root_pid`` whose command line contains ``needle``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if needle.encode() in argv:
                return child
            todo.append(child)
    return None
