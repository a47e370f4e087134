"""Manifests behind ``http://`` and ``https://`` URLs, fetched with httpx."""

from __future__ import annotations

import ssl
from typing import Final

import anyio
import anyio.to_thread
import httpx

from ..__version__ import __version__
from .._config import DEFAULT_MAX_BYTES
from .._manifest import Manifest, parse_manifest_async
from .base import ManifestSource

__all__ = ["MAX_REDIRECTS", "UrlManifestSource"]

MAX_REDIRECTS: Final = 5


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
        manifest = await parse_manifest_async(body, source=self.url, cdn=self.cdn)
        validators = {}
        if etag := response.headers.get("etag"):
            validators["If-None-Match"] = etag
        if modified := response.headers.get("last-modified"):
            validators["If-Modified-Since"] = modified
        self._validators, self._manifest = validators, manifest
        return manifest
