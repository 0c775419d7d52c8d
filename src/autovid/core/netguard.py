"""SSRF guard: resolve a host name, then refuse addresses that are not on the public internet.

Reusable for any outbound request to a user-supplied URL (asset fetches, webhooks): call
:func:`resolve_public` and connect to one of the returned addresses, never to the name again,
so a second DNS answer cannot swap in a private address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

from autovid.core.errors import AssetNotFoundError, ForbiddenSourceError, UpstreamUnavailableError

# (host, port) -> IP address strings. Tests pass their own to make a name resolve anywhere.
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)  # candidates for inet_aton's legacy IPv4 forms


def system_resolver(host: str, port: int) -> list[str]:
    """The resolver every fetch uses unless it is given one (``AssetFetcher(resolver=...)``).

    Test seam: steps build their fetcher without a resolver, so a test that must make a name
    resolve somewhere (say, a private address) replaces this module attribute, e.g.
    ``monkeypatch.setattr(netguard, "system_resolver", fake)``; it is looked up at each call.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_AGAIN,):
            raise UpstreamUnavailableError(f"DNS lookup for {host} failed temporarily") from exc
        raise AssetNotFoundError(f"host {host} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_address(host: str) -> str | None:
    """The IP address ``host`` spells, or None when it is a name that needs DNS.

    Besides the canonical forms this takes what the C resolver also reads as IPv4 without any
    lookup (``2130706433``, ``0x7f.1``, ``127.1``), so a check made on the URL alone (at submit)
    sees the address the fetch would connect to.
    """
    host = host.strip("[]").rstrip(".").split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except OSError:
        return None


def forbidden_reason(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why ``address`` must not be contacted, or None when it is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return forbidden_reason(str(embedded), allow_loopback=allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    if ip.is_link_local:
        return "link-local (includes the instance metadata service)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def check_address(address: str, *, allow_loopback: bool = False, host: str | None = None) -> None:
    reason = forbidden_reason(address, allow_loopback=allow_loopback)
    if reason:
        shown = f"{host} ({address})" if host and host != address else address
        raise ForbiddenSourceError(f"refusing to connect to {shown}: the address is {reason}")


def resolve_public(
    host: str, port: int, *, allow_loopback: bool = False, resolver: Resolver | None = None
) -> list[str]:
    """The addresses of ``host``, all checked; raises ForbiddenSourceError if any is not public."""
    host = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = (resolver or system_resolver)(host, port)
    if not addresses:
        raise AssetNotFoundError(f"host {host} has no addresses")
    for address in addresses:  # one bad answer refuses the host: we do not pick and choose
        check_address(address, allow_loopback=allow_loopback, host=host)
    return addresses
