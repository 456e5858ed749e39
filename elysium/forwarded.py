"""The client's address behind proxies we trust (``X-Forwarded-For``), a pure core.

Behind the gateway or an ingress every request reaches a service from the proxy's address, so
a limit counted per address (commerce's failed logins) would count every player as one. A
service that names its proxies (``trusted``: networks in CIDR form) reads the client from
``X-Forwarded-For`` instead: walking the list from the right, past every hop that is a trusted
proxy, the first address that is not one is the client (anything further left was written by
the client itself and proves nothing). With no trusted proxies, or a peer that is not one, the
peer is the client and the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` as networks; raises ValueError naming the part that is not one."""
    found: list[Network] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an address or a network (CIDR, like 10.0.0.0/8)") from None
    return tuple(found)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: ``peer`` unless it and the proxies after it are ``trusted``."""
    if not peer:
        return "unknown"
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer
