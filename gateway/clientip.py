"""The client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def from_trusted_proxy(peer: str | None, trusted: tuple[Network, ...]) -> bool:
    """Whether the peer is a proxy whose X-Forwarded-* headers may be believed."""
    return bool(trusted) and peer is not None and _trusted(peer, trusted)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str | None:
    """Walk X-Forwarded-For from the right, skipping trusted proxies; the first other hop is the client.

    Without a trusted peer the header is ignored: anyone can write it.
    """
    if not trusted or not forwarded_for or peer is None or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
