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
import re
import socket
from dataclasses import dataclass

import httpx

from gateway.errors import GatewayError

# One DNS label in its ASCII (A-label) form: letters, digits, inner hyphens, at most 63 characters.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class InvalidTarget(ValueError):
    """A target that is no usable http(s) URL; the message names the key and says what is wrong."""


def parse_target(target: str, key: str = "target") -> httpx.URL:
    """``target`` parsed once, as every later use will read it, or InvalidTarget naming ``key``.

    httpx raises for some malformed URLs only when a request is built (an unclosed IPv6 bracket,
    an empty Punycode label), and accepts host names no resolver will take: both are caught here,
    at config check and in the API, instead of failing every attempt of every batch.
    """
    try:
        url = httpx.URL(target)
        host = url.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError) as exc:
        raise InvalidTarget(f"{key} {target[:200]!r} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise InvalidTarget(f"{key} must be an http:// or https:// URL, not {url.scheme!r}")
    if not host:
        raise InvalidTarget(f"{key} {target[:200]!r} has no host")
    if not _is_ip(host):
        labels = host.removesuffix(".").split(".")
        if len(host) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
            raise InvalidTarget(f"{key} {target[:200]!r}: {host!r} is neither an IP address nor a valid "
                                "host name")
        try:
            url.host  # noqa: B018 - decoding the A-labels back is what every request will do
        except UnicodeError as exc:
            raise InvalidTarget(f"{key} {target[:200]!r}: host {host!r} is not valid IDNA: {exc}") from None
    if url.port is not None and not 0 < url.port < 65536:
        raise InvalidTarget(f"{key} {target[:200]!r}: port {url.port} is not between 1 and 65535")
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class TargetRefused(GatewayError):
    status = 400
    code = "target_not_allowed"


# IPv6 prefixes whose addresses carry an IPv4 address in their low 32 bits: NAT64 (RFC 6052 and
# the local-use prefix of RFC 8215), IPv4-compatible (deprecated, RFC 4291) and IPv4-translated
# (RFC 2765). A gateway on a NAT64 network reaches 127.0.0.1 through 64:ff9b::7f00:1.
_LOW_32_PREFIXES = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96"))
# ISATAP puts the IPv4 address after 0:5efe (or 200:5efe) in the interface identifier, any prefix.
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address ``ip`` may lead to: mapped, 6to4, Teredo (server and client), NAT64,
    IPv4-compatible, IPv4-translated, ISATAP."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    value = int(ip)
    if any(ip in net for net in _LOW_32_PREFIXES) and value > 1:  # :: and ::1 are no IPv4 address
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return found


def is_public(address: str) -> bool:
    """Whether ``address`` and every IPv4 address embedded in it are global unicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        candidates = [*embedded] if ip.ipv4_mapped is not None else [ip, *embedded]
    return all(c.is_global and not c.is_multicast for c in candidates)


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


async def public_target(target: str | httpx.URL) -> Pinned:
    """Refuse a target that resolves to any non-public address; else pin the first address."""
    if isinstance(target, str):
        try:
            url = parse_target(target)
        except InvalidTarget as exc:
            raise TargetRefused(str(exc), code="invalid_target", detail={"field": "target"}) from None
    else:
        url = target
    target = str(url)
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
