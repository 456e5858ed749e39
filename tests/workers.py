"""Helpers for tests of ``--workers`` services: which process holds a connection, and
whether processes are gone."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], limit_s: float = 30.0) -> list[int]:
    """Wait until none of ``pids`` runs; returns those still running at the limit."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def owner(sock: socket.socket | None, port: int, pids: list[int]) -> int:
    """The pid holding the server side of the client socket ``sock`` (from /proc/net/tcp and the fds)."""
    assert sock is not None
    client_port = sock.getsockname()[1]
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and int(fields[2].split(":")[1], 16) == client_port:
            inode = fields[9]
    assert inode, "server side of the connection not found"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
    raise AssertionError("no worker holds the connection")
