"""HTTP for BatchOps: http and https only, one deadline per request, and no private targets unless allowed.

The notice-board scrape and the webhooks both fetch URLs from configuration;
neither may be talked into reading ``file:`` or ``ftp:`` URLs, even after a
redirect (``check_url``).

**One deadline.** A socket timeout bounds each read, not the request: a server
sending one header line a second holds a 3 s timeout for minutes. ``open_url``
gives the whole request - connect, redirects, headers and the body the caller
reads inside the ``with`` - one deadline; when it passes, every socket the
request opened is shut down and the caller gets ``TimeoutError``.

**No private targets** (``allow=`` a ``HostAllowList``): loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast and reserved
addresses are refused (``E_URL_FORBIDDEN``) unless the allow-list names the
host or a network holding its address. The check runs on the addresses DNS
returns, for the first URL and after every redirect, and the connection is made
to the address that was checked (a second DNS answer cannot swap it).
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import threading
import time
import urllib.request
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

from batchops.errors import InputError

ALLOWED_SCHEMES = ("http", "https")


def check_userinfo(url: str) -> str:
    """Refuse a URL whose password holds an unencoded ``/``, ``?`` or ``#``.

    A parser splits such a URL inside the password, and a piece of the password then turns
    up as a host or port in some library's error message, where no redaction can know it.
    """
    parts = urlsplit(url)
    rest = url.split("//", 1)[1] if "//" in url else ""
    authority = re.split(r"[/?#]", rest.split("@", 1)[0], maxsplit=1)[0]  # as a parser would cut it
    port_only = ":" in authority and authority.rsplit(":", 1)[1].isdigit()  # host:8080/x?mail=a@b
    if "@" in rest and "@" not in parts.netloc and ":" in authority and not port_only:
        raise InputError(
            f"the password in {url!r} must be percent-encoded (/ is %2F, ? is %3F, # is %23, @ is %40)",
            code="E_URL_INVALID",
        )
    return url


def check_url(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES or not urlsplit(url).netloc:
        raise InputError(f"only http and https URLs are fetched, not {url!r}", code="E_URL_SCHEME")
    return check_userinfo(url)


# --------------------------------------------------------------------------- private targets


class HostAllowList:
    """Hosts (names or addresses) and networks (CIDR) that may be private; everything else must be public."""

    def __init__(self, entries=()):
        self.names: set[str] = set()
        self.networks: list = []
        for entry in entries:
            entry = str(entry).strip().lower().rstrip(".")
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry:
                    self.names.add(entry)

    def permits(self, host: str, address) -> bool:
        if not _is_private(address):
            return True
        if (host or "").lower().rstrip(".") in self.names:
            return True
        return any(address.version == net.version and address in net for net in self.networks)


def _is_private(address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
    if mapped is not None:
        address = mapped
    return not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified


def vetted_addresses(host: str, port: int, allow: HostAllowList) -> list[tuple]:
    """getaddrinfo answers for ``host``, refused (E_URL_FORBIDDEN) if any is private and not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not allow.permits(host, address):
            raise InputError(
                f"{host} resolves to {address}, a private, loopback or link-local address; "
                "add it to automation.scrape_allow_hosts to fetch it",
                code="E_URL_FORBIDDEN",
            )
    return infos


def _guarded_create_connection(allow: HostAllowList):
    def create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **_):
        host, port = address
        error = None
        for family, kind, proto, _name, sockaddr in vetted_addresses(host, port, allow):
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)  # the address that was checked, not a second DNS answer
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"cannot connect to {host}")

    return create_connection


# --------------------------------------------------------------------------- one deadline


class Deadline:
    """One time limit for a request: its sockets are shut down when it passes."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list = []
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        self._timer.cancel()


def _connection_class(base, deadline: Deadline, allow: HostAllowList | None):
    class Connection(base):
        def __init__(self, *args, **kwargs):
            kwargs["timeout"] = max(0.05, min(kwargs.get("timeout") or deadline.remaining(), deadline.remaining()))
            super().__init__(*args, **kwargs)
            if allow is not None:
                self._create_connection = _guarded_create_connection(allow)

        def connect(self):
            if deadline.remaining() <= 0:
                raise TimeoutError("the request ran out of time")
            super().connect()
            deadline.watch(self.sock)

    return Connection


class _SafeRedirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only (and, when guarded, to allowed hosts only)."""

    def __init__(self, allow: HostAllowList | None = None):
        super().__init__()
        self.allow = allow

    def http_error_302(self, req, fp, code, msg, headers):
        target = headers.get("location") or headers.get("uri")
        if target:
            check_target(urljoin(req.full_url, target), self.allow)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def check_target(url: str, allow: HostAllowList | None) -> str:
    """``check_url``, and with an allow-list, the host's addresses (literal or from DNS) too."""
    check_url(url)
    if allow is not None:
        parts = urlsplit(url)
        vetted_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), allow)
    return url


def http_only_opener(
    deadline: Deadline | None = None, allow: HostAllowList | None = None
) -> urllib.request.OpenerDirector:
    """No FileHandler, FTPHandler or DataHandler: nothing but http(s), even after a redirect."""
    opener = urllib.request.OpenerDirector()
    handlers = [
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _SafeRedirect(allow),
        urllib.request.HTTPErrorProcessor(),
    ]
    if deadline is None:
        handlers += [urllib.request.HTTPHandler(), urllib.request.HTTPSHandler()]
    else:

        def guard(req):
            # Through a proxy the connection goes to the proxy: the target was vetted by name
            # (check_target, before the request and after every redirect) instead.
            return None if req.has_proxy() or getattr(req, "_tunnel_host", None) else allow

        class Plain(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(_connection_class(http.client.HTTPConnection, deadline, guard(req)), req)

        class Secure(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(
                    _connection_class(http.client.HTTPSConnection, deadline, guard(req)), req, context=self._context
                )

        handlers += [Plain(), Secure()]
    for handler in handlers:
        opener.add_handler(handler)
    return opener


@contextmanager
def open_url(request: urllib.request.Request, timeout: float, allow: HostAllowList | None = None):
    """Open ``request`` with one overall deadline of ``timeout`` seconds; yields the response.

    The deadline also covers whatever the caller reads inside the ``with``; past it the
    sockets are shut down and ``TimeoutError`` is raised. With ``allow``, private targets
    are refused (``E_URL_FORBIDDEN``) before any connection, after every redirect too.
    """
    check_target(request.full_url, allow)
    deadline = Deadline(timeout)
    try:
        with http_only_opener(deadline, allow).open(request, timeout=timeout) as response:
            yield response
        if deadline.expired:  # a read cut short by the deadline looks like the end of the body
            raise TimeoutError(f"no complete answer within {timeout:g} s")
    except InputError:
        raise
    except Exception as exc:
        if deadline.expired:
            raise TimeoutError(f"no complete answer within {timeout:g} s") from None
        raise exc
    finally:
        deadline.cancel()
