"""The base of every manifest source: one async :meth:`ManifestSource.load`, plus lifecycle.

A source remembers what it loaded last. When the manifest has not changed (the same file,
an HTTP ``304 Not Modified``, the same S3 ETag) ``load()`` returns the very same
:class:`~quart_cdn._manifest.Manifest` object, without reading or parsing it again, and the
caller can tell by identity that nothing changed.

Every failure is a :class:`~quart_cdn.exceptions.ManifestLoadError` (or
:class:`~quart_cdn.exceptions.ManifestParseError`) whose message names the source and the
cause; foreign errors are chained with ``raise ... from``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Mapping
from typing import Final

import anyio.to_thread

from .._config import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT
from .._manifest import Manifest, parse_manifest_async
from ..exceptions import ManifestLoadError
from .decoding import release
from .truncation import TruncationError, check_integrity

__all__ = ["ErrorTable", "ManifestSource", "cut", "leaf_exception"]

logger = logging.getLogger("quart_cdn")

#: Exception type -> the clause that follows ``Manifest '<location>'`` in the message. The
#: clause may use ``{detail}`` (the exception's own message, quoted and cut, or a note that it
#: gave none), ``{name}`` (its class name) and ``{timeout}``. Looked up along the MRO.
ErrorTable = Mapping[type[BaseException], str]

# Bodies larger than this are hashed and checked in a worker thread, off the event loop.
_THREAD_ABOVE: Final = 256 * 1024
# A location is quoted in messages up to this many characters (paths run long).
_LOCATION_SHOWN: Final = 200
# Names quoted when a reload drops names the previous manifest listed.
_DROPPED_SLICE: Final = 4096
_DROPPED_SHOWN: Final = 3


def cut(value: object, limit: int = 80) -> str:
    """``repr`` of ``value`` as text, cut to about ``limit`` characters."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def leaf_exception(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, e.g. anyio's connect group."""
    while isinstance(inner := getattr(exc, "exceptions", None), tuple) and inner:
        exc = inner[0]
    return exc


def _digest_and_check(data: bytes | list[bytes]) -> tuple[bytes, bytes]:
    whole = data if isinstance(data, bytes) else b"".join(data)
    return hashlib.sha256(whole).digest(), check_integrity(whole)


async def _dropped(previous: Manifest, new: Manifest) -> tuple[int, list[str]]:
    """How many names of ``previous`` ``new`` lacks, and the first few: on the loop, a slice
    at a time (in a worker thread this Python loop would hold the GIL, and with it the
    loop, for a whole switch interval at a time)."""
    present = new._entries.__contains__  # the dict's own, in C
    keys = iter(previous._entries)
    count, shown = 0, list[str]()
    while batch := list(itertools.islice(keys, _DROPPED_SLICE)):
        gone = list(itertools.filterfalse(present, batch))
        count += len(gone)
        shown += gone[: _DROPPED_SHOWN - len(shown)]
        await anyio.sleep(0)
    return count, shown


class ManifestSource:
    """Base class of manifest sources: one async :meth:`load`, plus optional lifecycle.

    A subclass implements :meth:`load`, and :meth:`open`/:meth:`aclose` when it holds
    long-lived resources. To be chosen by a URL scheme, it also implements
    :meth:`from_location` and gets one line in :data:`quart_cdn._sources.SCHEMES`; to be
    used directly, pass an instance as ``CDN(app, source=...)`` or
    ``StarletteCDN(source=...)``.

    Attributes:
        location: the human-readable place (URL or path) quoted in every message.
        max_bytes: the largest manifest accepted.
        setting: the setting quoted in hints (``manifest_url=`` for Starlette).
        max_bytes_setting: the setting that gave ``max_bytes``.
        cdn: the CDN (``CDN_DOMAIN``, lower case), set by the adapter: a file that a
            manifest writes as a URL on it (a bundler's public path) is read as its path.

    Example::

        class DictSource(ManifestSource):
            location = "memory"

            async def load(self) -> Manifest:
                return Manifest({"js/app.js": "js/app.1a2b.js"}, kind="mapping")
    """

    location: str = "<manifest source>"
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    setting: str = "CDN_MANIFEST_URL"
    max_bytes_setting: str = "CDN_MANIFEST_MAX_BYTES"
    cdn: str | None = None
    #: What to do about a manifest that arrived gzip-compressed with nothing saying so.
    compressed_hint: str = "store it uncompressed"
    #: The errors of foreign libraries this source can meet, and how each is worded.
    errors: ErrorTable = {}
    # The last manifest this source gave, and the SHA-256 of the bytes it came from.
    _manifest: Manifest | None = None
    _digest: bytes | None = None

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> ManifestSource:
        """The source for ``location`` (a URL of this source's scheme).

        Raises:
            ValueError: ``location`` is not a valid URL for this source; the message starts
                with ``setting`` and the quoted location.
        """
        raise NotImplementedError(f"{cls.__name__}.from_location() must be implemented")

    async def open(self) -> None:
        """Acquire long-lived resources (an HTTP connection pool) for repeated loads."""

    async def load(self) -> Manifest:
        """Load the manifest; return the previous object itself when it has not changed."""
        raise NotImplementedError(f"{type(self).__name__}.load() must be implemented")

    async def aclose(self) -> None:
        """Release what :meth:`open` acquired; loading afterwards still works."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location!r}>"

    def _fail(self, cause: str) -> ManifestLoadError:
        """A load error: ``Manifest '<location>' <cause>; check <setting>``."""
        return ManifestLoadError(
            f"Manifest {cut(self.location, _LOCATION_SHOWN)} {cause}; check {self.setting}",
            source=self.location,
        )

    def _detail(self, exc: BaseException) -> str:
        """``exc``'s own message, cut, for :meth:`_translate` (its class when it has none)."""
        text = str(exc)
        if not text:
            return f"{type(exc).__name__} (no detail given)"
        return text if len(text) <= 80 else text[:77] + "..."

    def _translate(self, exc: BaseException) -> ManifestLoadError:
        """The :class:`ManifestLoadError` for a foreign ``exc``, worded by :attr:`errors`."""
        leaf = leaf_exception(exc)
        for cls in type(leaf).__mro__:
            if cls in self.errors:
                template = self.errors[cls]
                break
        else:
            template = "could not be loaded: {name}: {detail}"
        detail = self._detail(leaf)
        clause = template.format(
            detail=detail, name=type(leaf).__name__, timeout=f"{self.timeout:g}"
        )
        return self._fail(clause)

    async def _accept(self, data: bytes | list[bytes]) -> Manifest:
        """The manifest in ``data`` (whole, or in pieces): the previous object itself when
        the bytes are the same (whatever validators changed), else a newly parsed one once
        its integrity holds.

        A new manifest that drops names the previous one listed still wins (it is what was
        published); the drop is logged once, with the count and a few of the names.
        """
        size = len(data) if isinstance(data, bytes) else sum(map(len, data))
        head = data[:2] if isinstance(data, bytes) else b"".join(data[:2])[:2]
        try:
            if head == b"\x1f\x8b":
                raise self._fail(f"is gzip-compressed data, not a manifest; {self.compressed_hint}")
            if size > _THREAD_ABOVE:
                digest, body = await anyio.to_thread.run_sync(_digest_and_check, data)
            else:
                digest, body = _digest_and_check(data)
        except TruncationError as exc:
            raise self._fail(str(exc)) from exc
        finally:
            if isinstance(data, list):
                await release(data)  # joined now: the pieces go, a few at a time
        previous = self._manifest
        if previous is not None and digest == self._digest:
            return previous
        manifest = await parse_manifest_async(body, source=self.location, cdn=self.cdn)
        if previous is not None:
            count, shown = await _dropped(previous, manifest)
            if count:
                logger.warning(
                    "Manifest %r dropped %d names the previous one listed (%s%s); the new "
                    "manifest is in force, so in strict mode those names now raise "
                    "NotInManifestError",
                    self.location[:_LOCATION_SHOWN],
                    count,
                    ", ".join(cut(name) for name in shown),
                    ", ..." if count > len(shown) else "",
                )
        self._manifest, self._digest = manifest, digest
        return manifest

    def _too_big(self) -> ManifestLoadError:
        return ManifestLoadError(
            f"Manifest {cut(self.location, _LOCATION_SHOWN)} is larger than the "
            f"{self.max_bytes}-byte cap ({self.max_bytes_setting}); refusing to load it",
            source=self.location,
        )
