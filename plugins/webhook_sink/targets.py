"""Where a webhook may post: the guard against pointing the gateway at its own network.

A webhook created through the API must not become a way to reach loopback, link-local (cloud
metadata) or private-range services, so its target's host is resolved and every address must be
public. The check runs when the webhook is created or changed and again before each attempt, and
the attempt then connects to the address that passed (so a name re-resolving to 127.0.0.1
between check and connect — DNS rebinding — gains nothing).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from gateway import GatewayError


class TargetRefused(GatewayError):
    status = 400
    code = "target_not_allowed"


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"target host {host!r} cannot be resolved", detail=str(exc)) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Pinned:
    """The request to make: ``url`` names the checked address; the original host travels in
    ``Host`` and, for https, as the TLS server name (so certificates are still checked by name)."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


async def public_target(target: str) -> Pinned:
    """Refuse a target that resolves to any non-public address; else pin the first address."""
    url = httpx.URL(target)
    host = url.host
    if not host:
        raise TargetRefused("target has no host", detail={"target": target})
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(host, port)
    refused = [a for a in addresses if not is_public(a)]
    if refused or not addresses:
        raise TargetRefused(
            f"target {host!r} resolves to a loopback, link-local or private address ({', '.join(refused)}); "
            "set allow_private_targets = true to allow it",
            detail={"target": target, "addresses": addresses})
    host_header = host if url.port is None else f"{host}:{url.port}"
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return Pinned(url.copy_with(host=addresses[0]), {"Host": host_header}, extensions)
