"""The HTTP side of the server's port: who may ask, and the answers.

Devices upgrade on ``/ws``; everything else on the port is a plain ``GET`` answered
whole through websockets' ``process_request``:

=================  ================================================================
``/health``        200 ``ok``: for scripts and load balancers; says nothing else
``/status.json``   the session, its URLs and expiry, its devices and last updates
``/``              the status page (its own assets: ``/status.js``, ``/status.css``)
=================  ================================================================

The page's live view is a WebSocket on the same path as devices, ``/ws?status=1``:
there is no second upgrade path. Nothing else is ever served: the page's three assets
are package data named in :data:`ASSETS`, never a path taken from a request.

Who is answered (:func:`check_request`):

* **Host.** A request whose ``Host`` is not an IP literal, ``localhost``, or this
  machine's name (plus ``allowed_hosts``) is refused (403). A web page on another site
  cannot read the status through DNS rebinding: its requests carry its own host name.
* **Origin.** A request carrying an ``Origin`` (a browser's cross-origin request or a
  WebSocket) must pass the devices' Origin check (:data:`~.server.DEFAULT_ORIGINS` and
  ``--allow-origin``), or come from this server's own page (``Origin`` equal to
  ``http://`` + ``Host``). A plain ``GET`` (a navigation, ``curl``) carries none. No
  response carries CORS headers or reads credentials, so a page on another site can
  neither read an answer nor act on anyone's behalf.
* **The session id is the key.** The status and its live view show the device URL,
  so they answer a client on this machine (loopback), or one that names a live session
  (``?session=ID``: who has the URL may see its status). ``/health``, the page and its
  assets hold no secret.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import ipaddress
import re
import socket
from collections.abc import Collection, Sequence
from functools import cache
from http import HTTPStatus
from typing import Final

from websockets.datastructures import Headers, MultipleValuesError
from websockets.http11 import Request, Response

__all__ = [
    "ASSETS",
    "RequestCheck",
    "check_request",
    "host_allowed",
    "is_loopback",
    "origin_allowed",
    "respond",
]

ASSETS: Final[dict[str, tuple[str, str]]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/status.js": ("status.js", "text/javascript; charset=utf-8"),
    "/status.css": ("status.css", "text/css; charset=utf-8"),
}
"""Request path -> (file in the ``status_page`` package data, content type)."""

_SECURITY_HEADERS: Final = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    # The URLs on the page carry the session id: never pass them on as a referrer.
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
)

OriginRule = str | re.Pattern[str] | None


def is_loopback(address: object) -> bool:
    """True when ``address`` (a peer name tuple, or an IP text) is this machine's loopback."""
    host = address[0] if isinstance(address, tuple) and address else address
    if not isinstance(host, str):
        return False
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@cache
def _machine_names() -> frozenset[str]:
    """This machine's own host names, lower case (``name``, ``name.local``)."""
    names = {"localhost"}
    name = socket.gethostname().lower().rstrip(".")
    if name:
        names.update({name, f"{name}.local", name.split(".", 1)[0]})
    return frozenset(names)


def _split_host(host: str) -> str:
    """The host name of a ``Host`` header, without port or brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def host_allowed(host: str | None, allowed_hosts: Collection[str] = ()) -> bool:
    """True when a ``Host`` header names this server rather than someone's domain.

    Accepted: IP literals, ``localhost`` and its subdomains, this machine's host name
    (and ``NAME.local``), and ``allowed_hosts``.
    """
    if not host:
        return False
    name = _split_host(host)
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return True
    allowed = {h.lower().rstrip(".") for h in allowed_hosts}
    return name in allowed or name in _machine_names() or name.endswith(".localhost")


def origin_allowed(
    origin: str | None,
    host: str | None,
    origins: Sequence[OriginRule],
    allowed_hosts: Collection[str] = (),
) -> bool:
    """The WebSocket Origin check, shared by devices, the live view and HTTP requests.

    ``origin`` passes when it matches one of ``origins`` (an exact string, a pattern
    that must match all of it, or ``None`` for no header), or when it is this server's
    own page: ``http://`` + the request's ``Host``, a host :func:`host_allowed` accepts.
    """
    for rule in origins:
        if rule == origin:
            return True
        if isinstance(rule, re.Pattern) and origin is not None and rule.fullmatch(origin):
            return True
    return (
        origin is not None
        and host is not None
        and origin.lower() == f"http://{host.strip().lower()}"
        and host_allowed(host, allowed_hosts)
    )


@dataclasses.dataclass(frozen=True)
class RequestCheck:
    """What :func:`check_request` decided: a refusal, or the route and the key's verdict."""

    refusal: tuple[HTTPStatus, str] | None
    """Status and text of the refusal, or ``None`` when the request may be answered."""
    trusted: bool = False
    """True when the client may see the status (loopback, or it named a live session)."""


def check_request(
    request: Request,
    *,
    peer: object,
    origins: Sequence[OriginRule],
    allowed_hosts: Collection[str],
    session: str | None,
    sessions: Collection[str],
    check_host: bool = True,
) -> RequestCheck:
    """Decide whether to answer ``request`` (see the module docstring).

    Args:
        request: The HTTP request.
        peer: The client's address (``remote_address``).
        origins: The accepted ``Origin`` rules.
        allowed_hosts: Extra host names accepted in ``Host``.
        session: The ``session`` query parameter, if any.
        sessions: The live sessions' ids.
        check_host: False for device connections, which may dial any name that
            resolves to this machine (their Origin check stands on its own).
    """
    headers = request.headers
    try:
        host = headers.get("Host")
        origin = headers.get("Origin")
    except MultipleValuesError:  # a client that sends two is not a browser
        return RequestCheck((HTTPStatus.BAD_REQUEST, "Duplicate Host or Origin header.\n"))
    if check_host and not host_allowed(host, allowed_hosts):
        return RequestCheck(
            (
                HTTPStatus.FORBIDDEN,
                f"Host {host!r} is not an address of this server; open the URL that "
                "lumora-fast serve printed.\n",
            )
        )
    if not origin_allowed(origin, host, origins, allowed_hosts):
        return RequestCheck(
            (
                HTTPStatus.FORBIDDEN,
                f"Failed to open a WebSocket connection: invalid Origin header: {origin}.\n",
            )
        )
    trusted = is_loopback(peer) or (session is not None and session in sessions)
    return RequestCheck(None, trusted=trusted)


@cache
def _asset(name: str) -> bytes:
    return importlib.resources.files("lumora_fast.asyncio.status_page").joinpath(name).read_bytes()


def respond(base: Response, status: HTTPStatus, body: bytes, content_type: str) -> Response:
    """``base`` (websockets' own response, with its Date header) with this body.

    Every answer carries ``no-store``, ``nosniff``, ``no-referrer`` and a Content
    Security Policy that lets the page load only its own assets.
    """
    # Headers.__setitem__ adds a value: build the set afresh rather than edit it.
    headers = Headers(
        [
            *((k, v) for k, v in base.headers.raw_items() if k.lower() in ("date", "connection")),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            *_SECURITY_HEADERS,
        ]
    )
    return dataclasses.replace(
        base, status_code=status.value, reason_phrase=status.phrase, headers=headers, body=body
    )


def asset(path: str) -> tuple[bytes, str] | None:
    """The page asset served at ``path`` and its content type (``None``: not an asset)."""
    entry = ASSETS.get(path)
    if entry is None:
        return None
    name, content_type = entry
    return _asset(name), content_type
