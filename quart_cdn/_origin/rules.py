"""The origin rules: the verdict on a request's version, CORS and the header changes of a
response; see the package's docstring.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from .._cache import Snapshot
from .._core import CDNCore
from ..exceptions import CDNError
from .files import Files, Variant

__all__ = [
    "IMMUTABLE",
    "NO_STORE",
    "Answer",
    "Origin",
    "apply_answer",
    "asked_versions",
    "merge_vary",
]

IMMUTABLE: Final = "public, max-age=31536000, immutable"
NO_STORE: Final = "no-store"
#: The query names of a version (``?c=<checksum>``, ``?t=<mtime>``).
VERSION_NAMES: Final = ("c", "t")
#: How many decisions are remembered (keys hold request values: the cap bounds memory).
MAX_DECISIONS: Final = 10_000
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
    #: The ``Cache-Control`` value of ``headers``, if any.
    cache_control: str | None = None


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
        #: The app's files: precompressed siblings and digests.
        self.files = Files(precompressed=config.precompressed)
        self._decided: dict[Hashable, tuple[Variant, Answer]] = {}
        self._decided_for: Snapshot | None = None
        self.cors = config.cors
        self.cors_headers: Headers = []
        #: Header names a response of these routes varies by, whatever the request.
        self.vary: tuple[str, ...] = ()
        if config.cors is not None:
            self.cors_headers.append(("Access-Control-Allow-Origin", config.cors))
            if config.cors != "*":
                self.vary = ("Origin",)
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
            answer = Answer(headers, vary, drop, fields, cache_control)
            self._answers[key] = answer
        return answer

    # -- caching --------------------------------------------------------------------------

    def cache_control(
        self,
        *,
        url_key: str,
        filename: str,
        folder: str | None,
        query: str | bytes,
        path: str,
        stat: os.stat_result,
    ) -> str | None:
        """``Cache-Control`` for a file that exists, or ``None`` to keep the framework's.

        Args:
            url_key: the URL path without its leading ``/`` (``static/css/app.css``).
            filename: the file's name in the endpoint's folder (``css/app.css``).
            folder: the endpoint's static folder, for the timestamp rule.
            query: the request's query string.
            path: the file about to be sent (its plain version).
            stat: its ``os.stat`` result.
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
        if current.startswith("t=") and current != f"t={int(stat.st_mtime)}":
            return NO_STORE  # the file changed since its mtime was read: not those bytes
        if current.startswith("c="):
            # The manifest may be ahead of (or behind) the files of this instance (one
            # manifest shared by instances that are mid-deploy): check the bytes too.
            digests = self.files.digests(path, stat) or ()
            if not any(digest.startswith(current[2:]) for digest in digests):
                return NO_STORE
        return IMMUTABLE

    def needs_digest(self, path: str, stat: os.stat_result) -> bool:
        """Whether :meth:`digest` should run for this file before :meth:`cache_control`
        (a checksum manifest is in force and the file's digests are not known yet). It
        reads the file: call it in a worker thread."""
        if not self.cache:
            return False
        manifest = self.core.snapshot.manifest
        return (
            manifest is not None
            and manifest.kind == "checksum"
            and self.files.digests(path, stat) is None
        )

    def digest(self, path: str, stat: os.stat_result) -> None:
        """Read the file's digests (once per version of it); it reads the file: call it in
        a worker thread."""
        self.files.read_digests(path, stat)

    def decide(
        self,
        *,
        url_key: str,
        filename: str,
        folder: str | None,
        query: str | bytes,
        path: str,
        stat: os.stat_result,
        accept_encoding: str | None,
    ) -> tuple[Variant, Answer]:
        """The file to send for a request of a file that exists, and the header changes:
        :meth:`cache_control` (see it for the arguments) and :meth:`variant` together.

        Remembered per request shape, version of the file and manifest (a CDN asks for the
        same few URLs): a warm request costs one lookup. Call :meth:`digest` first when
        :meth:`needs_digest` says so."""
        snapshot = self.core.snapshot
        if snapshot is not self._decided_for:  # a new manifest: decide again
            self._decided, self._decided_for = {}, snapshot
        key = (url_key, query, path, stat.st_ino, stat.st_size, stat.st_mtime_ns, accept_encoding)
        decided = self._decided.get(key)
        if decided is None:
            cache_control = self.cache_control(
                url_key=url_key, filename=filename, folder=folder, query=query, path=path, stat=stat
            )
            variant = self.variant(path, stat, accept_encoding)
            decided = (variant, self.answer(cache_control, variant))
            if len(self._decided) < MAX_DECISIONS:
                self._decided[key] = decided
        return decided

    def missing(self, query: str | bytes) -> Answer:
        """The header changes for a 404."""
        return self.answer(self.missing_cache_control(query))

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
        return self.files.variant(path, plain, accept_encoding)

    def forget(self, path: str) -> None:
        """Drop what is known of ``path``'s siblings (one could not be sent)."""
        self.files.forget(path)
        self._decided.clear()


def apply_answer(headers: Any, answer: Answer) -> None:
    """Change a response's ``headers`` (werkzeug's ``Headers`` or Starlette's
    ``MutableHeaders``: both have ``in``, ``del``, item assignment and ``get``) as
    ``answer`` says."""
    for name in answer.drop:
        if name in headers:
            del headers[name]
    for name, value in answer.headers:
        headers[name] = value
    if answer.vary:
        current = headers.get("Vary")
        headers["Vary"] = merge_vary(current, answer.vary) if current else answer.fields["vary"]


def merge_vary(current: str | None, extra: Sequence[str]) -> str:
    """``current`` with the header names of ``extra`` added once each."""
    names = [n.strip() for n in (current or "").split(",") if n.strip()]
    lower = {n.lower() for n in names}
    for name in extra:
        if name.lower() not in lower:
            names.append(name)
            lower.add(name.lower())
    return ", ".join(names)
