"""Where manifests come from: a file (aiofiles) or an HTTP(S) URL (httpx).

A source remembers what it loaded last. When the manifest has not changed (same file
identity and mtime, or an HTTP ``304 Not Modified`` to a conditional request) ``load()``
returns the very same :class:`Manifest` object, without reading or parsing it again, and
the caller can tell by identity that nothing changed.

Every failure is a :class:`ManifestLoadError` (or :class:`ManifestParseError`) whose message
names the source and the cause; foreign errors are chained with ``raise ... from``.
"""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import aiofiles
import aiofiles.os
import anyio
import anyio.to_thread
import httpx

from . import __version__
from ._manifest import Manifest, parse_manifest_async
from .exceptions import ManifestLoadError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FileManifestSource",
    "ManifestSource",
    "UrlManifestSource",
    "source_for",
]

#: The largest manifest accepted by default (a 100,000-entry JSON mapping is about 8 MB).
DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
MAX_REDIRECTS: Final = 5


class ManifestSource:
    """Base class of manifest sources: one async :meth:`load`, plus optional lifecycle.

    ``location`` is the human-readable place (URL or path) quoted in every message.
    """

    location: str
    max_bytes: int = DEFAULT_MAX_BYTES
    #: The settings quoted in hints; ``manifest_url=`` and so on for Starlette.
    setting: str = "CDN_MANIFEST_URL"
    max_bytes_setting: str = "CDN_MANIFEST_MAX_BYTES"

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
            f"Manifest {self.location!r} {cause}; check {self.setting}", source=self.location
        )

    def _too_big(self) -> ManifestLoadError:
        return ManifestLoadError(
            f"Manifest {self.location!r} is larger than the {self.max_bytes}-byte cap "
            f"({self.max_bytes_setting}); refusing to load it",
            source=self.location,
        )


class FileManifestSource(ManifestSource):
    """A manifest in a local file, read with aiofiles.

    Publish a new manifest by writing a temporary file and renaming it over the old one
    (``os.replace``): a reader then sees either the old or the new file, never half of one.

    Args:
        path: the file's path.
        max_bytes: refuse files larger than this.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.location = str(path)
        self.max_bytes = max_bytes
        self._identity: tuple[int, int, int, int] | None = None
        self._manifest: Manifest | None = None

    async def load(self) -> Manifest:
        try:
            st = await aiofiles.os.stat(self.path)
            if stat.S_ISDIR(st.st_mode):
                raise self._fail("is a directory, not a file")
            if self._manifest is not None and _identity(st) == self._identity:
                return self._manifest
            async with aiofiles.open(self.path, "rb") as f:
                # The identity of what was opened, not of whatever the path names by now.
                opened = await anyio.to_thread.run_sync(os.fstat, f.fileno())
                data = await f.read(self.max_bytes + 1)
        except FileNotFoundError as exc:
            raise self._fail("does not exist") from exc
        except PermissionError as exc:
            raise self._fail("cannot be read: permission denied") from exc
        except IsADirectoryError as exc:
            raise self._fail("is a directory, not a file") from exc
        except OSError as exc:
            raise self._fail(f"cannot be read: {exc.strerror or exc}") from exc
        except ValueError as exc:  # a NUL byte in the path
            raise self._fail(f"is not a valid path: {exc}") from exc
        if len(data) > self.max_bytes:
            raise self._too_big()
        manifest = await parse_manifest_async(data, source=self.location)
        self._identity, self._manifest = _identity(opened), manifest
        return manifest


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class UrlManifestSource(ManifestSource):
    """A manifest behind an ``http://`` or ``https://`` URL, fetched with httpx.

    Each fetch has one overall deadline (``timeout`` seconds for connecting, redirects and
    the whole body), sends ``If-None-Match``/``If-Modified-Since`` from the last good answer
    so that an unchanged manifest costs a ``304`` and no parse, streams the body under a
    size cap, follows up to five redirects and refuses one from https to http.

    Args:
        url: the manifest's URL.
        timeout: seconds allowed for one whole fetch.
        max_bytes: refuse bodies larger than this.
        client: an ``httpx.AsyncClient`` to use (for example one with a ``MockTransport``);
            it is never closed here. Without one, :meth:`open` creates a pooled client that
            :meth:`aclose` closes, and a load outside open/aclose uses a client of its own.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.location = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = client
        self._owned: httpx.AsyncClient | None = None
        self._validators: dict[str, str] = {}
        self._manifest: Manifest | None = None
        self._ssl_context: ssl.SSLContext | None = None

    async def _load_ca_bundle(self) -> None:
        # httpx would load it in AsyncClient(), holding the event loop for tens of
        # milliseconds; in a worker thread the loop goes on (OpenSSL releases the GIL).
        if self._ssl_context is None:
            try:
                self._ssl_context = await anyio.to_thread.run_sync(httpx.create_ssl_context)
            except OSError as exc:  # ssl.SSLError too; e.g. SSL_CERT_FILE names no file
                raise self._fail(
                    f"cannot be fetched: the TLS CA bundle did not load ({exc})"
                ) from exc

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            verify=self._ssl_context or True,
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": f"quart-cdn/{__version__}"},
        )

    async def open(self) -> None:
        if self._client is None and self._owned is None:
            await self._load_ca_bundle()
            if self._owned is None:
                self._owned = self._new_client()

    async def aclose(self) -> None:
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.aclose()

    async def load(self) -> Manifest:
        client = self._client or self._owned
        try:
            with anyio.fail_after(self.timeout):
                if client is not None:
                    return await self._fetch(client)
                await self._load_ca_bundle()
                async with self._new_client() as temporary:
                    return await self._fetch(temporary)
        except TimeoutError as exc:
            raise self._fail(f"timed out after {self.timeout:g} s") from exc
        except httpx.TimeoutException as exc:
            raise self._fail(f"timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise self._fail(f"could not be reached: {str(exc) or type(exc).__name__}") from exc
        except httpx.RemoteProtocolError as exc:
            raise self._fail(f"broke off mid-answer: {str(exc) or type(exc).__name__}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._fail(f"could not be fetched: {type(exc).__name__}: {exc}") from exc

    async def _fetch(self, client: httpx.AsyncClient) -> Manifest:
        url = httpx.URL(self.url)
        headers = dict(self._validators) if self._manifest is not None else {}
        for _ in range(MAX_REDIRECTS + 1):
            request = client.build_request("GET", url, headers=headers)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    target = url.join(response.headers["location"])
                    if url.scheme == "https" and target.scheme != "https":
                        raise self._fail(f"redirects from https to {str(target)!r}; refused")
                    url = target
                    continue
                return await self._handle(response, sent_validators=bool(headers))
            finally:
                await response.aclose()
        raise self._fail(f"redirected more than {MAX_REDIRECTS} times")

    async def _handle(self, response: httpx.Response, *, sent_validators: bool) -> Manifest:
        status = response.status_code
        if status == 304:
            if sent_validators and self._manifest is not None:
                # A 304 has no body; reading its end lets the pool keep the connection, so
                # that the next check costs no new TCP connection.
                await response.aread()
                return self._manifest
            raise self._fail("answered 304 Not Modified to a request without validators")
        if status != 200:
            retry = response.headers.get("retry-after")
            hint = f" (Retry-After: {retry})" if retry else ""
            raise self._fail(f"returned HTTP {status} {response.reason_phrase}{hint}".rstrip())
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_big()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise self._too_big()
        manifest = await parse_manifest_async(body, source=self.url)
        validators = {}
        if etag := response.headers.get("etag"):
            validators["If-None-Match"] = etag
        if modified := response.headers.get("last-modified"):
            validators["If-Modified-Since"] = modified
        self._validators, self._manifest = validators, manifest
        return manifest


def source_for(
    location: str,
    *,
    timeout: float = 10.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    setting: str = "CDN_MANIFEST_URL",
    max_bytes_setting: str = "CDN_MANIFEST_MAX_BYTES",
) -> ManifestSource:
    """The source for ``location``: an ``http(s)://`` URL, a ``file://`` URL or a path.

    ``s3://bucket/key`` needs the ``quart-cdn[s3]`` extra. ``setting`` and
    ``max_bytes_setting`` name the settings that gave ``location`` and ``max_bytes``, for
    messages.

    Raises:
        ValueError: an unsupported URL scheme, or a ``file://`` URL naming a remote host.
    """
    source = _make_source(location, timeout=timeout, max_bytes=max_bytes, setting=setting)
    source.setting, source.max_bytes_setting = setting, max_bytes_setting
    return source


def _make_source(location: str, *, timeout: float, max_bytes: int, setting: str) -> ManifestSource:
    scheme = urlsplit(location).scheme.lower() if "://" in location else ""
    if scheme in ("http", "https"):
        return UrlManifestSource(location, timeout=timeout, max_bytes=max_bytes)
    if scheme == "file":
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"{setting} {location!r} names a remote host in a file:// URL; "
                "use file:///absolute/path or a plain path"
            )
        path = url2pathname(unquote(parts.path))
        return FileManifestSource(path, max_bytes=max_bytes)
    if scheme == "s3":
        from ._s3 import S3ManifestSource

        return S3ManifestSource(location, timeout=timeout, max_bytes=max_bytes)
    if scheme:
        raise ValueError(
            f"{setting} {location!r} has an unsupported scheme {scheme!r}; "
            "use an http(s):// URL, a file:// URL or a filesystem path"
        )
    return FileManifestSource(location, max_bytes=max_bytes)
