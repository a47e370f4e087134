"""Manifests behind ``http://`` and ``https://`` URLs, fetched with httpx.

The body is streamed raw (``aiter_raw``) and decoded here, by :mod:`.decoding`, so that the
size cap counts decoded bytes as they are made and a compression bomb is refused having
held little more than the cap. Every foreign error is worded by :data:`HTTP_ERRORS`.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Final

import anyio
import anyio.to_thread
import httpx

from ..__version__ import __version__
from .._config import DEFAULT_MAX_BYTES
from .._manifest import Manifest
from ..exceptions import ManifestError
from .base import ErrorTable, ManifestSource, cut
from .decoding import (
    ACCEPT_ENCODING,
    DecodeError,
    decode_stream,
    parse_content_encoding,
    release,
)

__all__ = ["HTTP_ERRORS", "MAX_REDIRECTS", "UrlManifestSource"]

MAX_REDIRECTS: Final = 5

_LOST = "lost the connection {while_} ({{name}}: {{detail}}); the server or a proxy closed it"

#: How each foreign error of an HTTP fetch is worded (see :data:`.base.ErrorTable`).
HTTP_ERRORS: Final[ErrorTable] = {
    TimeoutError: "timed out after {timeout} s",
    httpx.ConnectTimeout: "timed out ({name}) while connecting",
    httpx.ReadTimeout: "timed out ({name}) waiting for more of the answer",
    httpx.WriteTimeout: "timed out ({name}) sending the request",
    httpx.PoolTimeout: "timed out ({name}) waiting for a free connection",
    httpx.TimeoutException: "timed out ({name})",
    httpx.ConnectError: "could not be reached: {detail}",
    httpx.ReadError: _LOST.format(while_="while reading the answer"),
    httpx.WriteError: _LOST.format(while_="while sending the request"),
    httpx.CloseError: _LOST.format(while_="while closing it"),
    httpx.NetworkError: _LOST.format(while_="mid-fetch"),
    httpx.ProxyError: "could not be fetched through the proxy in use: {detail}",
    httpx.UnsupportedProtocol: "is not an http:// or https:// URL ({name}: {detail})",
    httpx.RemoteProtocolError: "{detail}",  # worded by _PROTOCOL_CLAUSES, see _detail()
    httpx.LocalProtocolError: "could not be requested, httpx refused it ({name}: {detail})",
    httpx.ProtocolError: "sent an answer that is not valid HTTP ({name}: {detail})",
    httpx.TransportError: "could not be fetched ({name}: {detail})",
    httpx.DecodingError: "sent a body that does not decode as announced ({name}: {detail})",
    httpx.TooManyRedirects: f"redirected more than {MAX_REDIRECTS} times ({{name}})",
    httpx.HTTPStatusError: "returned an error status ({name}: {detail})",
    httpx.RequestError: "could not be fetched ({name}: {detail})",
    httpx.HTTPError: "could not be fetched ({name}: {detail})",
    httpx.InvalidURL: "is not a valid URL, or redirects to one ({name}: {detail})",
    httpx.CookieConflict: "could not be fetched ({name}: {detail})",
    httpx.StreamConsumed: "could not be read: its body was already read ({name})",
    httpx.StreamClosed: "could not be read: its body was already closed ({name})",
    httpx.ResponseNotRead: "could not be read ({name}: {detail})",
    httpx.RequestNotRead: "could not be requested ({name}: {detail})",
    httpx.StreamError: "could not be read ({name}: {detail})",
    anyio.BrokenResourceError: _LOST.format(while_="mid-fetch"),
    anyio.ClosedResourceError: _LOST.format(while_="mid-fetch"),
    anyio.EndOfStream: _LOST.format(while_="mid-fetch"),
    ssl.SSLCertVerificationError: "failed TLS certificate verification: {detail}",
    ssl.SSLError: "failed the TLS handshake ({name}: {detail})",
    UnicodeError: "names a host, or redirects to one, that is not a valid domain name ({name}: "
    "{detail})",
    OverflowError: "names a port, or redirects to one, out of the range 1-65535 ({detail})",
    OSError: "could not be fetched, the system refused ({name}: {detail})",
    ValueError: "could not be fetched ({name}: {detail})",
}

# What h11/httpcore say, and what it means for someone reading our log: the whole clause.
_PROTOCOL_CLAUSES: Final = {
    "Receive buffer too long": "sent a header block or chunk line longer than httpx accepts "
    "(100 KiB): the server does not speak HTTP/1.1 there, or sent a broken chunked body",
    "peer closed connection": "broke off mid-answer: "
    "the connection closed before the whole body arrived",
    "Server disconnected without sending a response.": "broke off mid-answer: the server "
    "closed the connection without answering",
}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class UrlManifestSource(ManifestSource):
    """A manifest behind an ``http://`` or ``https://`` URL, fetched with httpx.

    Each fetch has one overall deadline (``timeout`` seconds for connecting, redirects and
    the whole body) and sends ``If-None-Match``/``If-Modified-Since`` from the last good
    answer (to the same origin only), so an unchanged manifest costs a ``304`` and no parse.
    The body is decoded here under the size cap; a body shorter than its ``Content-Length``
    or a compressed stream without its end is refused. Up to five redirects are followed,
    to ``https`` from anywhere, to ``http`` only from ``http``. A connection is kept for
    the next fetch only after a complete ``200``: after a ``304`` (which may carry a
    smuggled body), an error status, a protocol error or a refused body, the pool is closed.

    Args:
        url: the manifest's URL.
        timeout: seconds allowed for one whole fetch.
        max_bytes: refuse bodies larger than this (decoded).
        client: an ``httpx.AsyncClient`` to use (for example one with a ``MockTransport``);
            it is never closed here, nor its pool. Without one, :meth:`open` creates a
            pooled client that :meth:`aclose` closes, and a load outside open/aclose uses a
            client of its own.
    """

    errors = HTTP_ERRORS
    compressed_hint = "serve it with Content-Encoding: gzip, or uncompressed"

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
        self._opened = False
        self._owned: httpx.AsyncClient | None = None
        self._validators: dict[str, str] = {}
        self._validators_origin: tuple[str, str, int | None] | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._reusable = False

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> UrlManifestSource:
        """An ``http://`` or ``https://`` URL."""
        return cls(location, timeout=timeout, max_bytes=max_bytes)

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
        self._opened = True
        if self._client is None and self._owned is None:
            await self._load_ca_bundle()
            if self._owned is None:
                self._owned = self._new_client()

    async def aclose(self) -> None:
        self._opened = False
        await self._drop_pool()

    async def _drop_pool(self) -> None:
        owned, self._owned = self._owned, None
        if owned is not None:
            with anyio.CancelScope(shield=True):
                await owned.aclose()

    def _detail(self, exc: BaseException) -> str:
        if not isinstance(exc, httpx.RemoteProtocolError):
            return super()._detail(exc)
        text = str(exc)
        for known, clause in _PROTOCOL_CLAUSES.items():
            if text.startswith(known):
                return f"{clause} ({text[:120]})"
        return f"sent a broken HTTP answer: {super()._detail(exc)}"

    async def load(self) -> Manifest:
        self._reusable = False
        try:
            with anyio.fail_after(self.timeout):
                if self._client is not None:
                    return await self._fetch(self._client)
                if self._opened:
                    await self._load_ca_bundle()
                    if self._owned is None:
                        self._owned = self._new_client()
                    return await self._fetch(self._owned)
                await self._load_ca_bundle()
                async with self._new_client() as temporary:
                    return await self._fetch(temporary)
        except ManifestError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
        finally:
            if not self._reusable:
                await self._drop_pool()

    async def _fetch(self, client: httpx.AsyncClient) -> Manifest:
        url = httpx.URL(self.url)
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept-Encoding": ACCEPT_ENCODING}
            validated = self._manifest is not None and _origin(url) == self._validators_origin
            if validated:
                headers.update(self._validators)
            request = client.build_request("GET", url, headers=headers)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    url = self._redirect_target(url, response.headers["location"])
                    continue
                return await self._handle(
                    response, url, validated=validated and bool(self._validators)
                )
            finally:
                await response.aclose()
        raise self._fail(f"redirected more than {MAX_REDIRECTS} times")

    def _redirect_target(self, url: httpx.URL, location: str) -> httpx.URL:
        target = url.join(location)
        if target.scheme not in ("http", "https") or (
            url.scheme == "https" and target.scheme != "https"
        ):
            raise self._fail(f"redirects from {url.scheme} to {cut(target)}; refused")
        if target.port is not None and not 0 < target.port < 65536:
            raise self._fail(f"redirects to {cut(target)}, whose port is out of range; refused")
        return target

    async def _handle(
        self, response: httpx.Response, url: httpx.URL, *, validated: bool
    ) -> Manifest:
        status = response.status_code
        if status == 304:
            # The connection is dropped after it (load's finally): a 304 may carry a body
            # that h11 would take for the next answer.
            if validated and self._manifest is not None:
                return self._manifest
            raise self._fail("answered 304 Not Modified to a request without validators")
        if status != 200:
            retry = response.headers.get("retry-after")
            hint = f" (Retry-After: {retry[:80]})" if retry else ""
            raise self._fail(f"returned HTTP {status} {response.reason_phrase[:80]}{hint}".rstrip())
        try:
            codings = parse_content_encoding(response.headers.get("content-encoding", ""))
        except DecodeError as exc:
            raise self._fail(f"cannot be decoded: {exc}") from exc
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_big()
        body, received = await self._read_body(response, codings)
        if received is not None and declared.isdigit() and received < int(declared):
            await release(body)
            raise self._fail(
                f"broke off mid-answer: {received} of the {declared} bytes its Content-Length "
                "announced arrived (a proxy or the server may be cutting connections)"
            )
        manifest = await self._accept(body)
        validators = {}
        if etag := response.headers.get("etag"):
            validators["If-None-Match"] = etag
        if modified := response.headers.get("last-modified"):
            validators["If-Modified-Since"] = modified
        self._validators, self._validators_origin = validators, _origin(url)
        self._reusable = True
        return manifest

    async def _read_body(
        self, response: httpx.Response, codings: list[str]
    ) -> tuple[list[bytes], int | None]:
        """The decoded body and the count of raw bytes received (``None``: not known)."""
        consumed = response.is_stream_consumed
        if consumed:
            # Built and read before it reached us (a MockTransport's): httpx decoded it.
            codings, chunks = [], _once(response.content)
        else:
            chunks = response.aiter_raw()
        try:
            pieces, received = await decode_stream(
                chunks, codings, limit=self.max_bytes, too_big=self._too_big
            )
        except DecodeError as exc:
            encoding = ", ".join(codings)
            raise self._fail(
                f"sent a {encoding} body that is cut short or corrupt ({exc}); a proxy or the "
                "server may be cutting connections"
            ) from exc
        return pieces, None if consumed else received


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
