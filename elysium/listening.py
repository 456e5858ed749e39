"""The ``listening`` line: the one JSON line on stdout saying a service serves.

Every service prints the same keys in the same order, whether one process serves or a
``--workers`` supervisor speaks for its replicas (:mod:`elysium.serve`, :mod:`elysium.workers`)::

    {"event": "listening", "service": "spectator", "url": "ws://127.0.0.1:7370", "host": "127.0.0.1",
     "port": 7370, "pid": 4242, "version": "0.1.0", "id": "relay-1", "workers": 1, "pids": [4242]}

``url`` is where clients reach it (the public URL when one is configured), ``host`` and
``port`` what it listens on, ``pid`` the process that printed the line, ``id`` the instance
id it registers or publishes under (null for a service that has none), ``workers`` and
``pids`` the processes serving the port (the printing process itself when it serves alone).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from elysium import __version__

__all__ = ["KEYS", "Listening", "line"]

KEYS = ("event", "service", "url", "host", "port", "pid", "version", "id", "workers", "pids")


@dataclass(frozen=True, slots=True)
class Listening:
    """What a running service says of itself (:meth:`elysium.serve.Service.listening`)."""

    url: str
    port: int
    id: str | None = None


def line(service: str, host: str, listening: Listening, pids: Sequence[int] = ()) -> dict[str, object]:
    """The listening line of ``service`` (``pids``: the replicas, when a supervisor prints it)."""
    pid = os.getpid()
    served_by = list(pids) or [pid]
    return {"event": "listening", "service": service, "url": listening.url, "host": host, "port": listening.port,
            "pid": pid, "version": __version__, "id": listening.id, "workers": len(served_by), "pids": served_by}
