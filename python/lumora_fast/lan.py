"""This machine's network addresses, best first: where a phone on the LAN can reach it.

A server bound to ``0.0.0.0`` (or ``::``) listens on every interface, but a phone needs
one concrete address in its URL, and 127.0.0.1 is the phone itself. This module lists
the machine's addresses with the standard library alone:

* every interface address, from the C library's ``getifaddrs`` (through ctypes; Linux,
  macOS and the BSDs share the ``struct ifaddrs`` layout);
* the address of the default route, by ``connect()`` on a UDP socket (this sends no
  packet: the kernel only picks the route and the source address). The targets are
  documentation addresses (RFC 5737, RFC 3849), never routed on the internet, so the
  lookup follows the default route whatever the local networks are.

:func:`rank` orders them: IPv4 before IPv6 (phones on home and office Wi-Fi always
have IPv4), the default route's interface before the others (a Docker bridge or a VPN
is rarely where the phone is), private addresses (RFC 1918, IPv6 ULA) before the rest,
then interface order. Loopback and link-local addresses are left out: a phone cannot
use the first, and the second needs a zone id that URLs on phones do not carry.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import ipaddress
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LanAddress",
    "default_route_address",
    "interface_addresses",
    "is_unspecified",
    "lan_addresses",
    "rank",
]

Family = Literal[4, 6]

_ROUTE_PROBES: dict[Family, tuple[socket.AddressFamily, str]] = {
    4: (socket.AF_INET, "198.51.100.1"),  # TEST-NET-2 (RFC 5737)
    6: (socket.AF_INET6, "2001:db8::1"),  # documentation prefix (RFC 3849)
}
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ULA = ipaddress.ip_network("fc00::/7")
_IFF_UP = 0x1  # the same value on Linux, macOS and the BSDs
_IFF_LOOPBACK = 0x8


@dataclass(frozen=True)
class LanAddress:
    """One address of this machine that another device may dial."""

    address: str
    """The IP address, without brackets or zone (``192.168.1.20``, ``fd00::2``)."""
    interface: str
    """The interface's name (``""`` when the platform does not say)."""
    family: Family
    default_route: bool = False
    """True when the interface holds the default route's source address."""

    @property
    def private(self) -> bool:
        """True for RFC 1918 (IPv4) and unique local (IPv6, ``fc00::/7``) addresses."""
        ip = ipaddress.ip_address(self.address)
        if ip.version == 4:
            return any(ip in network for network in _RFC1918)
        return ip in _ULA

    def host(self) -> str:
        """The address as a URL's host (IPv6 in brackets)."""
        return f"[{self.address}]" if self.family == 6 else self.address


def is_unspecified(host: str) -> bool:
    """True when ``host`` means every interface (``0.0.0.0``, ``::``, ``""``)."""
    if host == "":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _usable(address: str) -> bool:
    """An address another device may dial: not loopback, link-local or multicast."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified)


# ------------------------------------------------------------------- getifaddrs


class _SockAddr(ctypes.Structure):
    # Only the pointer is read through this type; the bytes are decoded by hand below,
    # since Linux and the BSDs lay out the family field differently.
    _fields_ = [("sa_data", ctypes.c_ubyte * 2)]


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_IfAddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.POINTER(_SockAddr)),
    ("ifa_netmask", ctypes.POINTER(_SockAddr)),
    ("ifa_ifu", ctypes.POINTER(_SockAddr)),
    ("ifa_data", ctypes.c_void_p),
]

_BSD_SOCKADDR = sys.platform == "darwin" or "bsd" in sys.platform
"""BSD sockaddrs start with a length byte, then a one-byte family; Linux has a
two-byte family in host order."""


def _decode(pointer: ctypes._Pointer[_SockAddr]) -> tuple[Family, str] | None:
    """The family and address text of a ``struct sockaddr``, for IPv4 and IPv6 only."""
    if not pointer:
        return None
    address = ctypes.addressof(pointer.contents)
    head = ctypes.string_at(address, 2)
    family = head[1] if _BSD_SOCKADDR else int.from_bytes(head, sys.byteorder)
    if family == socket.AF_INET:
        # sockaddr_in: family (2), port (2), address (4)
        return 4, socket.inet_ntop(socket.AF_INET, ctypes.string_at(address + 4, 4))
    if family == socket.AF_INET6:
        # sockaddr_in6: family (2), port (2), flow info (4), address (16), scope id (4)
        return 6, socket.inet_ntop(socket.AF_INET6, ctypes.string_at(address + 8, 16))
    return None


def interface_addresses() -> list[tuple[str, Family, str, bool]]:
    """Every address of every interface that is up: (interface, family, address, loopback).

    Returns ``[]`` where ``getifaddrs`` is not available (Windows): callers then rely
    on the default route alone.
    """
    if sys.platform == "win32":
        return []
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        getifaddrs = libc.getifaddrs
        freeifaddrs = libc.freeifaddrs
    except (OSError, AttributeError):
        return []
    getifaddrs.argtypes = [ctypes.POINTER(ctypes.POINTER(_IfAddrs))]
    getifaddrs.restype = ctypes.c_int
    freeifaddrs.argtypes = [ctypes.POINTER(_IfAddrs)]
    freeifaddrs.restype = None
    head = ctypes.POINTER(_IfAddrs)()
    if getifaddrs(ctypes.byref(head)) != 0:
        return []
    found: list[tuple[str, Family, str, bool]] = []
    try:
        entry = head
        while entry:
            item = entry.contents
            decoded = _decode(item.ifa_addr)
            if decoded is not None and item.ifa_flags & _IFF_UP:
                interface = (item.ifa_name or b"").decode("utf-8", "replace")
                loopback = bool(item.ifa_flags & _IFF_LOOPBACK)
                found.append((interface, decoded[0], decoded[1], loopback))
            entry = item.ifa_next
    finally:
        freeifaddrs(head)
    return found


def default_route_address(family: Family) -> str | None:
    """The source address this machine uses for the default route (``None``: no route).

    A UDP ``connect()`` only selects a route: no packet leaves the machine.
    """
    address_family, probe = _ROUTE_PROBES[family]
    try:
        with socket.socket(address_family, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 9))
            address: str = sock.getsockname()[0]
    except OSError:
        return None
    address = address.split("%", 1)[0]
    return address if _usable(address) else None


# ------------------------------------------------------------------------ ranking


def rank(
    interfaces: Iterable[tuple[str, Family, str, bool]], defaults: Sequence[str]
) -> list[LanAddress]:
    """Order addresses by how likely a phone on the LAN reaches them, best first.

    Args:
        interfaces: (interface, family, address, loopback) as from
            :func:`interface_addresses`.
        defaults: The default routes' source addresses (see
            :func:`default_route_address`); an address in it that no interface lists
            is still included, on an unnamed interface.

    Returns:
        Each usable address once: IPv4 first, then the default route's interface, then
        private addresses, then interface order.
    """
    entries = [e for e in interfaces if not e[3] and _usable(e[2])]
    default_interfaces = {e[0] for e in entries if e[2] in defaults}
    seen: dict[str, LanAddress] = {}
    for interface, family, address, _loopback in entries:
        if address not in seen:
            seen[address] = LanAddress(
                address, interface, family, default_route=interface in default_interfaces
            )
    for address in defaults:
        if address not in seen and _usable(address):
            seen[address] = LanAddress(address, "", 6 if ":" in address else 4, default_route=True)
    order = {address: index for index, address in enumerate(seen)}

    def key(item: LanAddress) -> tuple[bool, bool, bool, bool, int]:
        return (
            item.family == 6,
            not item.default_route,
            not item.private,
            item.address not in defaults,
            order[item.address],
        )

    return sorted(seen.values(), key=key)


def lan_addresses(families: Iterable[Family] = (4, 6)) -> list[LanAddress]:
    """This machine's addresses that other devices may dial, best first (see :func:`rank`).

    Args:
        families: The IP versions wanted (a server bound to ``0.0.0.0`` is reachable on
            IPv4 only).
    """
    wanted = set(families)
    defaults: list[str] = []
    for family in (4, 6):
        if family in wanted:
            with contextlib.suppress(OSError):
                address = default_route_address(family)
                if address is not None:
                    defaults.append(address)
    interfaces = [entry for entry in interface_addresses() if entry[1] in wanted]
    return rank(interfaces, defaults)
