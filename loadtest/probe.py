"""Before a run: the addresses given are well formed, and something answers at each of them.

A run against an address where nothing listens would only count every player's failure and
exit 1 as if the deployment had failed its thresholds; checking first makes that exit 3
("the target could not be reached") with the address named. The check is a TCP connect and
nothing more, so the game server counts no connection for it.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from loadtest.errors import TargetError, UsageError

PROBE_TIMEOUT_S = 10.0
DEFAULT_PORTS = {"ws": 80, "wss": 443, "http": 80, "https": 443}


def check_url(option: str, url: str, schemes: tuple[str, ...]) -> None:
    """Raise :class:`UsageError` unless ``url`` has one of ``schemes``, a host and a valid port."""
    parts = urlsplit(url)
    names = [f"{s}://" for s in schemes]
    wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in schemes or not parts.hostname or not port_ok:
        raise UsageError(f"{option} must be a {wanted} URL, not {url!r}")


def check_reachable(what: str, url: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise :class:`TargetError` unless a TCP connection to the URL's host and port opens in time."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except TimeoutError:
        raise TargetError(f"cannot reach the {what} at {url}: no answer within {timeout_s:g} s") from None
    except socket.gaierror as exc:
        raise TargetError(f"cannot reach the {what} at {url}: unknown host ({exc.strerror})") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise TargetError(f"cannot reach the {what} at {url}: {reason}") from None
