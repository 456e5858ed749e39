"""Where a run's workers live: processes on this machine (:class:`LocalPool`) or behind agents.

The runner talks to every worker over a :class:`multiprocessing.connection.Connection`, the
same way wherever the worker runs: it sends ``("go", t0)`` and ``("stop", None)`` and reads
``("ready" | "snap" | "done" | "failed", fields)``. A pool starts the workers and hands the
runner one connection per worker, keyed by the worker's index in the whole run.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any, Protocol

from loadtest import worker


class WorkerPool(Protocol):
    def start(self, config: dict[str, Any]) -> dict[Connection, int]:
        """Start the workers with the run's config; their connections, by worker index."""
        ...

    def name(self, worker: int) -> str:
        """How a failure names worker ``worker`` ("worker 3", "agent 1 (host-a) worker 3")."""
        ...

    def close(self) -> None:
        """Stop whatever is still running (bounded waits)."""
        ...


class LocalPool:
    """``count`` worker processes here, numbered ``first ..`` of ``total`` in the whole run."""

    def __init__(self, count: int, *, first: int = 0, total: int | None = None) -> None:
        self.count = count
        self.first = first
        self.total = total if total is not None else count
        self.procs: list[multiprocessing.process.BaseProcess] = []
        self.conns: dict[Connection, int] = {}

    def start(self, config: dict[str, Any]) -> dict[Connection, int]:
        ctx = multiprocessing.get_context("spawn")
        for i in range(self.first, self.first + self.count):
            parent, child = ctx.Pipe(duplex=True)
            proc: multiprocessing.process.BaseProcess = ctx.Process(
                target=worker.main, args=(i, self.total, child, config), name=f"loadtest-worker-{i}", daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns[parent] = i
        return dict(self.conns)

    def name(self, worker: int) -> str:
        return f"worker {worker}"

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
