"""The settings: one mapping of defaults, and a frozen, validated :class:`CDNConfig`.

Quart reads them from ``app.config`` (``CDN_DOMAIN``...), Starlette from keyword arguments
(``domain=``...); both go through :meth:`CDNConfig.from_settings`, so every check and every
message is written once. ``key`` turns a field name into what the user wrote, so a message
names ``CDN_MANIFEST_URL`` for Quart and ``manifest_url=`` for Starlette.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from ._log import cut
from ._urls import normalize_domain

__all__ = [
    "CROSSORIGIN_VALUES",
    "DEFAULTS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "MIN_REFRESH",
    "CDNConfig",
    "dev_server_url",
    "quart_key",
]

#: The largest manifest accepted by default (a 100,000-entry JSON mapping is about 8 MB).
DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
#: Seconds allowed for one whole manifest fetch by default.
DEFAULT_TIMEOUT: Final = 10.0
#: The shortest ``manifest_refresh`` accepted: below it, each worker polls the manifest's
#: origin many times a second (0.01 s made about 80 requests a second per worker).
MIN_REFRESH: Final = 1.0

#: Every setting and its default, by field name. ``debug=None`` means "the app's debug flag".
DEFAULTS: Final[Mapping[str, Any]] = {
    "domain": None,
    "https": None,
    "debug": None,
    "timestamp": True,
    "endpoints": ("static",),
    "manifest": False,
    "manifest_url": None,
    "manifest_refresh": None,
    "manifest_timeout": DEFAULT_TIMEOUT,
    "manifest_strict": True,
    "manifest_max_bytes": DEFAULT_MAX_BYTES,
    "crossorigin": "anonymous",
    "dev_server": None,
    "dev_server_react": False,
    "preload_headers": True,
}

#: The values of ``crossorigin`` (``None`` leaves the attribute out).
CROSSORIGIN_VALUES: Final = ("anonymous", "use-credentials")


def quart_key(name: str) -> str:
    """``manifest_url`` -> ``CDN_MANIFEST_URL``."""
    return f"CDN_{name.upper()}"


@dataclass(frozen=True)
class CDNConfig:
    """Validated settings; see the README's table for what each one does."""

    domain: str | None = None
    https: bool | None = None
    debug: bool = False
    timestamp: bool = True
    endpoints: frozenset[str] = frozenset({"static"})
    manifest: bool = False
    manifest_url: str | None = None
    manifest_refresh: float | None = None
    manifest_timeout: float = DEFAULT_TIMEOUT
    manifest_strict: bool = True
    manifest_max_bytes: int = DEFAULT_MAX_BYTES
    crossorigin: str | None = "anonymous"
    dev_server: str | None = None
    dev_server_react: bool = False
    preload_headers: bool = True

    def serves(self, endpoint: str, separator: str = ".") -> bool:
        """Whether ``endpoint`` is a CDN endpoint: an entry ``x`` matches ``x`` and every
        ``<blueprint>.x`` (``<mount>:x`` with Starlette's ``":"``)."""
        return endpoint in self.endpoints or any(
            endpoint.endswith(separator + entry) for entry in self.endpoints
        )

    @property
    def active(self) -> bool:
        """Whether any URL is changed at all."""
        return bool(self.domain) and not self.debug

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        *,
        key: Callable[[str], str] = quart_key,
        debug_default: bool = False,
        has_source: bool = False,
    ) -> CDNConfig:
        """Validate ``settings`` (by field name; missing ones take :data:`DEFAULTS`).

        ``has_source``: a manifest source was passed in, so ``manifest_url`` may be unset.

        Raises:
            ValueError: a bad value; the message names ``key(name)`` and quotes the value.
        """
        get = {**DEFAULTS, **settings}.__getitem__

        def optional_bool(name: str) -> bool | None:
            value = get(name)
            if value is None or isinstance(value, bool):
                return value
            raise ValueError(f"{key(name)} must be True, False or None, not {_shown(value)}")

        def seconds(name: str, *, allow_none: bool) -> float | None:
            value = get(name)
            if value is None and allow_none:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"{key(name)} must be a number of seconds, not {_shown(value)}"
                    + (" (use None to turn it off)" if allow_none else "")
                )
            if not math.isfinite(value) or value < 0 or (value == 0 and not allow_none):
                raise ValueError(
                    f"{key(name)} must be a {'non-negative' if allow_none else 'positive'} "
                    f"finite number of seconds, not {_shown(value)}"
                )
            return float(value) if value else None

        refresh = seconds("manifest_refresh", allow_none=True)
        if refresh is not None and refresh < MIN_REFRESH:
            raise ValueError(
                f"{key('manifest_refresh')} is {_shown(get('manifest_refresh'))} seconds, "
                f"below the floor of {MIN_REFRESH:g} s; set it to {MIN_REFRESH:g} or more "
                "(a few minutes is usual), or to None or 0 to load the manifest once"
            )
        domain = normalize_domain(get("domain"), key=key("domain"), https_key=key("https"))
        endpoints = get("endpoints")
        if isinstance(endpoints, str) or not isinstance(endpoints, Iterable):
            raise ValueError(
                f"{key('endpoints')} must be a list of endpoint names such as ['static'], "
                f"not {_shown(endpoints)}"
            )
        endpoints = frozenset(endpoints)
        if not all(isinstance(e, str) and e for e in endpoints):
            raise ValueError(f"{key('endpoints')} must hold non-empty strings: {_shown(endpoints)}")
        manifest = bool(get("manifest"))
        manifest_url = get("manifest_url")
        if manifest_url is not None and not isinstance(manifest_url, str):
            manifest_url = str(manifest_url)  # a pathlib.Path
        if has_source and not manifest:
            raise ValueError(
                f"A manifest source was given but {key('manifest')} is off; turn it on"
            )
        if manifest and not manifest_url and not has_source:
            raise ValueError(
                f"{key('manifest')} is on but {key('manifest_url')} is not set; set it to "
                "the manifest's path, or its http(s)://, file:// or s3:// URL"
            )
        max_bytes = get("manifest_max_bytes")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError(
                f"{key('manifest_max_bytes')} must be a positive number of bytes, "
                f"not {_shown(max_bytes)}"
            )
        crossorigin = get("crossorigin")
        if crossorigin is not None and crossorigin not in CROSSORIGIN_VALUES:
            raise ValueError(
                f"{key('crossorigin')} must be 'anonymous', 'use-credentials' or None (no "
                f"attribute), not {_shown(crossorigin)}"
            )
        debug = get("debug")
        timeout = seconds("manifest_timeout", allow_none=False)
        assert timeout is not None
        return cls(
            domain=domain,
            https=optional_bool("https"),
            debug=debug_default if debug is None else bool(debug),
            timestamp=bool(get("timestamp")),
            endpoints=endpoints,
            manifest=manifest,
            manifest_url=manifest_url or None,
            manifest_refresh=refresh,
            manifest_timeout=timeout,
            manifest_strict=bool(get("manifest_strict")),
            manifest_max_bytes=max_bytes,
            crossorigin=crossorigin,
            dev_server=dev_server_url(get("dev_server"), key("dev_server")),
            dev_server_react=bool(get("dev_server_react")),
            preload_headers=bool(get("preload_headers")),
        )


def _shown(value: object) -> str:
    """A setting's value as a message quotes it: its repr, cut to 80 characters."""
    return cut(repr(value), 80)


def dev_server_url(value: object, key: str = "CDN_DEV_SERVER") -> str | None:
    """Check a dev server URL (``http://localhost:5173``, or with Vite's ``base`` as its
    path, ``http://localhost:5173/static``) and return it without a trailing ``/``.

    Raises:
        ValueError: not an ``http(s)://host[:port][/path]`` URL; the message names ``key``.
    """
    if value is None or value == "":
        return None
    hint = "; give the URL of Vite's dev server, e.g. 'http://localhost:5173'"
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string URL or None, not {_shown(value)}{hint}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise ValueError(f"{key} must be an http:// or https:// URL, not {_shown(value)}{hint}")
    return value.rstrip("/")
