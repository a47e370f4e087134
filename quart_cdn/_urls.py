"""Pure URL helpers: checking ``CDN_DOMAIN`` and joining a CDN URL from its parts."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote, urlsplit

__all__ = [
    "CDN_SCHEMES",
    "REQUEST_SCHEMES",
    "add_query",
    "cdn_url",
    "normalize_domain",
    "path_only",
    "quote_anchor",
]

#: The scheme of a CDN URL for a request's scheme (a websocket's page is http or https).
REQUEST_SCHEMES: Final = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_HOSTNAME: Final = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?\.?"
)
_IPV6: Final = re.compile(r"\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~]+)?\]")
_PREFIX: Final = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)*")


def normalize_domain(
    value: object, *, key: str = "CDN_DOMAIN", https_key: str = "CDN_HTTPS"
) -> str | None:
    """Check a ``host[:port][/path-prefix]`` value and return it without a trailing ``/``.

    A falsy value gives ``None`` (the CDN is off).

    Raises:
        ValueError: a scheme, userinfo, whitespace or control characters, a query or
            fragment, a bad host or a port outside 1-65535; the message names ``key``.
    """
    if not value:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string such as 'cdn.example.com', not {value!r}")

    def refuse(reason: str) -> ValueError:
        return ValueError(f"{key} {value!r} {reason}")

    if _SCHEME.match(value):
        host = value.split("://", 1)[1].rstrip("/")
        return_hint = f"set {key} {host!r} and {https_key} to choose the scheme"
        raise refuse(f"must not carry a scheme; {return_hint}")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise refuse("contains whitespace or a control character; remove it")
    if any(c in value for c in "?#\\"):
        raise refuse("must not contain '?', '#' or '\\'; give host[:port][/path-prefix]")
    domain = value.rstrip("/")
    hostport, slash, prefix = domain.partition("/")
    if "@" in hostport:
        raise refuse("must not contain user information ('user@'); give host[:port]")
    if hostport.startswith("["):
        end = hostport.find("]") + 1
        host, port = hostport[:end], hostport[end:]
        valid_host = end > 0 and _IPV6.fullmatch(host) is not None
    else:
        host, colon, port_digits = hostport.partition(":")
        port = colon + port_digits
        valid_host = _HOSTNAME.fullmatch(host) is not None
    if not valid_host:
        raise refuse("does not start with a valid host name; give host[:port][/path-prefix]")
    if port:
        digits = port[1:]
        if (
            port[0] != ":"
            or not (digits.isascii() and digits.isdigit())
            or not 0 < int(digits) < 65536
        ):
            raise refuse("has an invalid port; use a number from 1 to 65535")
    if slash and not _PREFIX.fullmatch(slash + prefix):
        raise refuse("has a path prefix with characters that must be percent-encoded")
    return domain


def path_only(built: str) -> str:
    """The path and query of what a router built: a rule with a host or a subdomain builds
    a whole URL (``http://assets.localhost/x.js``), whose host the CDN's replaces."""
    if built.startswith("/"):
        return built
    parts = urlsplit(built)
    return f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"


def quote_anchor(anchor: str) -> str:
    """Quote ``_anchor`` exactly as Quart's ``url_for`` does."""
    return quote(anchor, safe="%!#$&'()*+,/:;=?@")


def add_query(path: str, item: str) -> str:
    """Append ``item`` (``name=value``) to ``path``, which may already carry a query string."""
    return f"{path}{'&' if '?' in path else '?'}{item}"


#: The schemes a CDN URL may have; ``''`` gives a protocol-relative URL.
CDN_SCHEMES: Final = frozenset({"http", "https", ""})


def cdn_url(scheme: str, domain: str, path: str, anchor: str | None = None) -> str:
    """Join a CDN URL; an empty ``scheme`` gives a protocol-relative one (``//host/...``).

    ``path`` must start with ``/``, so the host is always ``domain``'s.

    Raises:
        ValueError: ``scheme`` is not ``http``, ``https`` or ``''`` (``_scheme=`` could
            otherwise move the host: ``'https://evil.example/#'``).
    """
    if scheme not in CDN_SCHEMES:
        shown = scheme if len(scheme) <= 40 else scheme[:37] + "..."
        raise ValueError(
            f"_scheme={shown!r} is not a scheme for a CDN URL; use 'https', 'http' or '' "
            "(protocol-relative)"
        )
    url = f"{scheme}://{domain}{path}" if scheme else f"//{domain}{path}"
    return url if anchor is None else f"{url}#{quote_anchor(anchor)}"
