"""The app as the CDN's origin: what a static file's response says, framework-free.

With origin pull the CDN fetches ``/static/...`` from the app and keeps what it gets, so the
app decides what millions of browsers see. Both adapters ask :class:`Origin` three things
for a request of a CDN endpoint's static route, and only apply the answers:

* **Caching** (``CDN_ORIGIN_CACHE``). The version a request carries is checked against the
  one ``url_for`` gives now, through the same :class:`~quart_cdn._versioning.Versioner`:
  the current ``c=``/``t=`` (or a hashed name the manifest lists) is the right bytes
  forever, ``public, max-age=31536000, immutable``. Any other version (a rolling deploy: a
  new page's URL reaching an instance that still has the old build, or an old page's URL
  reaching a new one) gets the bytes this instance has, with ``no-store``: the visitor gets
  the nearest thing to what it asked for (a 404 would break the page for sure, and SRI
  still refuses wrong bytes), and the CDN keeps nothing, so its next request for that URL
  goes to an instance again, and finds the right bytes once the deploy is over. A 404 under
  a versioned URL (or under any name, with a hashed-name manifest, where the name is the
  version) is ``no-store`` too: the file may exist on the next instance. A hashed file still
  on disk that the manifest no longer lists is served with the framework's own caching:
  this instance cannot tell a retired hashed copy from an unlisted file that may change
  (``robots.txt``), so it does not promise either for a year.
* **CORS** (``CDN_CORS``): ``Access-Control-Allow-Origin`` on every response, and the
  answer to a preflight.
* **Precompressed files** (``CDN_PRECOMPRESSED``): the ``.br`` or ``.gz`` sibling that the
  request accepts (``quart-cdn digest --brotli --gzip`` writes them), with
  ``Content-Encoding`` and ``Vary: Accept-Encoding``. Siblings are looked up once per
  version of the plain file (its inode, size and mtime), and used only when they are at
  least as new as it, so a plain file edited after the build is never shadowed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from ._core import CDNCore
from .exceptions import CDNError

__all__ = [
    "IMMUTABLE",
    "NO_STORE",
    "Answer",
    "Origin",
    "Variant",
    "accepted_encodings",
    "asked_versions",
    "merge_vary",
]

IMMUTABLE: Final = "public, max-age=31536000, immutable"
NO_STORE: Final = "no-store"
#: The query names of a version (``?c=<checksum>``, ``?t=<mtime>``).
VERSION_NAMES: Final = ("c", "t")
#: Content codings with a sibling suffix, best first (brotli is smaller).
ENCODINGS: Final = (("br", ".br"), ("gzip", ".gz"))
#: Caps that keep hostile or runaway input (paths, header values) from growing memory.
MAX_FILES: Final = 10_000
MAX_HEADERS: Final = 256
#: How long a browser may reuse a preflight's answer (seconds).
PREFLIGHT_MAX_AGE: Final = "86400"

Headers = list[tuple[str, str]]


def asked_versions(query: str | bytes) -> tuple[str, ...]:
    """The version items of a query string, as ``url_for`` writes them (``("c=abc",)``)."""
    if isinstance(query, bytes):
        if b"c=" not in query and b"t=" not in query:
            return ()
        query = query.decode("latin-1")
    elif "c=" not in query and "t=" not in query:
        return ()
    if "%" in query or "+" in query:  # escapes: the standard parser (url_for writes none)
        pairs = parse_qsl(query, keep_blank_values=True)
    else:
        pairs = [part.partition("=")[::2] for part in query.split("&")]
    return tuple(f"{name}={value}" for name, value in pairs if name in VERSION_NAMES)


def accepted_encodings(header: str | None) -> dict[str, float]:
    """The content codings of an ``Accept-Encoding`` value with their weights (``q=0``
    kept, as a refusal); ``*`` stands for every coding not named."""
    accepted: dict[str, float] = {}
    for item in (header or "").split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        accepted[coding] = weight if 0.0 <= weight <= 1.0 else 0.0
    return accepted


@dataclass(frozen=True, slots=True)
class Variant:
    """The file to send: the plain one, or an encoded sibling of it."""

    path: str
    stat: os.stat_result
    #: ``"br"``, ``"gzip"``, or ``None`` for the plain file.
    encoding: str | None = None
    #: Whether the file has siblings, so the response depends on ``Accept-Encoding``.
    varies: bool = False

    def etag(self) -> str:
        """A strong ETag of this variant: its mtime and size, and its coding, so that no
        two variants of a file share one."""
        base = f"{self.stat.st_mtime}-{self.stat.st_size}-{self.encoding or 'identity'}"
        return f'"{hashlib.md5(base.encode(), usedforsecurity=False).hexdigest()}"'


@dataclass(frozen=True, slots=True)
class Answer:
    """Header changes for one response: set ``headers`` (replacing), add ``vary`` to
    ``Vary``, remove ``drop``; or, on a response without them, add ``fields``."""

    headers: Headers
    vary: tuple[str, ...]
    drop: tuple[str, ...]
    #: All of it as new fields (lower-case names), for a response that has none of them
    #: yet (Starlette takes them at construction). Read only.
    fields: dict[str, str]


_Siblings = tuple[tuple[str, str, os.stat_result], ...]


class Origin:
    """How one app answers as the CDN's origin; see the module's docstring.

    Args:
        core: the app's core (settings, version rule, manifest in force).
    """

    def __init__(self, core: CDNCore) -> None:
        config = core.config
        self.core = core
        #: Whether the static routes are served by these rules at all: only while the CDN
        #: is on (no domain or debug: every URL is the framework's, so is every answer).
        self.enabled = config.active and (
            config.origin_cache or config.cors is not None or config.precompressed
        )
        self.cache = config.origin_cache
        self.precompressed = config.precompressed
        self.cors = config.cors
        self.cors_headers: Headers = []
        #: Header names a response of these routes varies by, whatever the request.
        self.vary: tuple[str, ...] = ()
        if config.cors is not None:
            self.cors_headers.append(("Access-Control-Allow-Origin", config.cors))
            if config.cors != "*":
                self.vary = ("Origin",)
        self._siblings: dict[tuple[str, int, int, int], _Siblings] = {}
        self._accepts: dict[str, dict[str, float]] = {}
        self._answers: dict[tuple[str | None, str | None, bool], Answer] = {}

    def answer(self, cache_control: str | None, variant: Variant | None = None) -> Answer:
        """What to change on a response: ``cache_control`` (from :meth:`cache_control` or
        :meth:`missing_cache_control`), CORS, and the variant's coding."""
        encoding = variant.encoding if variant is not None else None
        key = (cache_control, encoding, variant is not None and variant.varies)
        answer = self._answers.get(key)
        if answer is None:  # a handful of combinations: made once each
            headers = list(self.cors_headers)
            vary = self.vary
            if cache_control is not None:
                headers.append(("Cache-Control", cache_control))
            if encoding is not None:
                headers.append(("Content-Encoding", encoding))
            if key[2]:
                vary = (*vary, "Accept-Encoding")
            # Expires (Quart sets one with max-age) would contradict the new Cache-Control.
            drop = ("Expires",) if cache_control is not None else ()
            fields = {name.lower(): value for name, value in headers}
            if vary:
                fields["vary"] = ", ".join(vary)
            answer = self._answers[key] = Answer(headers, vary, drop, fields)
        return answer

    # -- caching --------------------------------------------------------------------------

    def cache_control(
        self,
        *,
        url_key: str,
        filename: str,
        folder: str | None,
        query: str | bytes,
        mtime: float,
    ) -> str | None:
        """``Cache-Control`` for a file that exists, or ``None`` to keep the framework's.

        Args:
            url_key: the URL path without its leading ``/`` (``static/css/app.css``).
            filename: the file's name in the endpoint's folder (``css/app.css``).
            folder: the endpoint's static folder, for the timestamp rule.
            query: the request's query string.
            mtime: the modification time of the file about to be sent.
        """
        if not self.cache:
            return None
        core = self.core
        manifest = core.snapshot.manifest
        if core.versioner.listed(manifest, url_key, filename):
            return IMMUTABLE  # a hashed name: the name is the version
        asked = asked_versions(query)
        if not asked:
            return None
        try:
            hashed, current = core.versioner.version(manifest, url_key, filename, folder)
        except CDNError:  # strict, and url_for gives this file no URL at all
            return NO_STORE
        if hashed is not None or current is None or asked != (current,):
            return NO_STORE
        if current.startswith("t=") and current != f"t={int(mtime)}":
            return NO_STORE  # the file changed since its mtime was read: not those bytes
        return IMMUTABLE

    def missing_cache_control(self, query: str | bytes) -> str | None:
        """``Cache-Control`` for a 404: ``no-store`` when the URL was versioned."""
        if not self.cache:
            return None
        manifest = self.core.snapshot.manifest
        if asked_versions(query) or (manifest is not None and manifest.kind == "mapping"):
            return NO_STORE
        return None

    # -- CORS -----------------------------------------------------------------------------

    def preflight_headers(self, requested_headers: str | None) -> Headers:
        """The headers of the answer to a CORS preflight (``OPTIONS``), or ``[]`` when
        CORS is off. Only reads are allowed; the requested headers are allowed back (the
        files are public and no credentials are involved)."""
        if self.cors is None:
            return []
        headers = [
            *self.cors_headers,
            *(("Vary", name) for name in self.vary),
            ("Access-Control-Allow-Methods", "GET, HEAD"),
            ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
        ]
        if requested_headers:
            names = [name.strip() for name in requested_headers.split(",")]
            allowed = ", ".join(n for n in names if n and all(c.isalnum() or c == "-" for c in n))
            if allowed:
                headers.append(("Access-Control-Allow-Headers", allowed))
        return headers

    # -- precompressed files --------------------------------------------------------------

    def variant(self, path: str, plain: os.stat_result, accept_encoding: str | None) -> Variant:
        """The file to send for ``path`` (stat ``plain``), given ``Accept-Encoding``."""
        if not self.precompressed:
            return Variant(path, plain)
        siblings = self._find_siblings(path, plain)
        if not siblings:
            return Variant(path, plain)
        accepted = self._accepted(accept_encoding)
        best: tuple[float, str, str, os.stat_result] | None = None
        for encoding, sibling, sibling_stat in siblings:
            weight = accepted.get(encoding, accepted.get("*", 0.0))
            if weight > 0.0 and (best is None or weight > best[0]):
                best = (weight, encoding, sibling, sibling_stat)
        if best is None:
            return Variant(path, plain, varies=True)
        return Variant(best[2], best[3], best[1], varies=True)

    def forget(self, path: str) -> None:
        """Drop what is known of ``path``'s siblings (one could not be sent)."""
        for key in [key for key in self._siblings if key[0] == path]:
            del self._siblings[key]

    def _accepted(self, header: str | None) -> dict[str, float]:
        key = header or ""
        accepted = self._accepts.get(key)
        if accepted is None:
            accepted = accepted_encodings(header)
            if len(self._accepts) < MAX_HEADERS:
                self._accepts[key] = accepted
        return accepted

    def _find_siblings(self, path: str, plain: os.stat_result) -> _Siblings:
        key = (path, plain.st_ino, plain.st_size, plain.st_mtime_ns)
        siblings = self._siblings.get(key)
        if siblings is None:
            # A few stat calls once per version of a file: microseconds, not worth a thread.
            found = []
            for encoding, suffix in ENCODINGS:
                with contextlib.suppress(OSError):
                    sibling_stat = os.stat(path + suffix)
                    if (
                        stat.S_ISREG(sibling_stat.st_mode)
                        and sibling_stat.st_mtime_ns >= plain.st_mtime_ns
                    ):
                        found.append((encoding, path + suffix, sibling_stat))
            siblings = tuple(found)
            if len(self._siblings) < MAX_FILES:
                self._siblings[key] = siblings
        return siblings


def merge_vary(current: str | None, extra: Sequence[str]) -> str:
    """``current`` with the header names of ``extra`` added once each."""
    names = [n.strip() for n in (current or "").split(",") if n.strip()]
    lower = {n.lower() for n in names}
    for name in extra:
        if name.lower() not in lower:
            names.append(name)
            lower.add(name.lower())
    return ", ".join(names)
