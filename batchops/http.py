"""HTTP for BatchOps: http and https only, even after a redirect.

The notice-board scrape and the webhooks both fetch URLs from configuration;
neither may be talked into reading ``file:`` or ``ftp:`` URLs.
"""

from __future__ import annotations

import re
import urllib.request
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
        raise InputError(f"the password in {url!r} must be percent-encoded (/ is %2F, ? is %3F, # is %23, "
                         "@ is %40)", code="E_URL_INVALID")
    return url


def check_url(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES or not urlsplit(url).netloc:
        raise InputError(f"only http and https URLs are fetched, not {url!r}", code="E_URL_SCHEME")
    return check_userinfo(url)


class _SafeRedirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only; anything else is E_URL_SCHEME, not a vague HTTP error."""

    def http_error_302(self, req, fp, code, msg, headers):
        target = headers.get("location") or headers.get("uri")
        if target:
            check_url(urljoin(req.full_url, target))
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def http_only_opener() -> urllib.request.OpenerDirector:
    # No FileHandler, FTPHandler or DataHandler: nothing but http(s), even after a redirect.
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(), _SafeRedirect(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener
