"""Manifests in S3 (``s3://bucket/key``), fetched with aiobotocore.

Credentials come from botocore's usual chain: environment variables, the shared
credentials and config files (``AWS_PROFILE``), SSO, container and instance roles. The
endpoint does too, so ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``, or ``endpoint_url``
in the profile) points the source at MinIO, LocalStack or a test server.

An unchanged object costs one conditional ``GetObject`` (``IfNoneMatch`` with the last
ETag), answered ``304 Not Modified``, and :meth:`S3ManifestSource.load` returns the very
same :class:`Manifest` object. Needs the ``quart-cdn[s3]`` extra.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

import anyio

try:
    import aiohttp
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
        ResponseStreamingError,
        UndefinedModelAttributeError,
    )
except ImportError as exc:
    raise ImportError(
        "s3:// manifests need aiobotocore, which is not installed; "
        "install it with: pip install 'quart-cdn[s3]'"
    ) from exc

from ..__version__ import __version__
from .._config import DEFAULT_MAX_BYTES
from .._manifest import Manifest
from ..exceptions import ManifestError, ManifestLoadError
from .base import ErrorTable, ManifestSource, cut
from .decoding import DecodeError, decode_stream, parse_content_encoding, release

if TYPE_CHECKING:
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_s3 import S3Client

__all__ = ["S3_ERRORS", "S3ManifestSource"]

_CHUNK: Final = 64 * 1024
_MD5: Final = re.compile(r"[0-9a-f]{32}")

#: How each foreign error of an S3 fetch is worded (see :data:`.base.ErrorTable`);
#: ``ClientError`` (an S3 error answer) is read field by field instead.
S3_ERRORS: Final[ErrorTable] = {
    TimeoutError: "timed out after {timeout} s",
    ConnectTimeoutError: "timed out after {timeout} s connecting to S3 ({name})",
    ReadTimeoutError: "timed out after {timeout} s waiting for S3's answer ({name})",
    NoCredentialsError: "cannot be fetched: no AWS credentials were found (environment, "
    "shared config or profile, instance or container role)",
    EndpointConnectionError: "could not be reached: {detail}",
    ResponseStreamingError: "broke off mid-answer: {detail}",
    BotoCoreError: "could not be fetched ({name}: {detail})",
    aiohttp.ClientPayloadError: "broke off mid-answer: {detail}",
    aiohttp.ClientConnectionError: "could not be reached: {detail}",
    aiohttp.ClientError: "could not be fetched ({name}: {detail})",
    aiohttp.EofStream: "broke off mid-answer ({name})",
    aiohttp.WebSocketError: "could not be fetched ({name}: {detail})",
    ClientError: "could not be fetched: S3 answered with an error ({name}: {detail})",
    UndefinedModelAttributeError: "could not be fetched: botocore's S3 model is broken "
    "({name}: {detail})",
    Warning: "could not be fetched: a warning was raised as an error ({name}: {detail})",
    UnicodeError: "could not be fetched: a host name is not valid ({name}: {detail})",
    OSError: "could not be fetched, the system refused ({name}: {detail})",
    ValueError: "could not be fetched ({name}: {detail})",
    TypeError: "could not be fetched ({name}: {detail})",
}


def _split_s3_url(location: str, setting: str) -> tuple[str, str]:
    # As the AWS CLI reads them: no percent-decoding, '?' and '#' belong to the key.
    scheme, sep, rest = location.partition("://")
    bucket, _, key = rest.partition("/")
    if not sep or scheme.lower() != "s3" or not bucket or not key or key.endswith("/"):
        raise ValueError(
            f"{setting} {cut(location, 200)} is not an S3 object URL; use s3://bucket/path/to/manifest.json"
        )
    return bucket, key


class S3ManifestSource(ManifestSource):
    """A manifest stored as an S3 object, fetched with aiobotocore.

    Each fetch has one overall deadline (``timeout`` seconds, retries included), sends
    ``IfNoneMatch`` with the last ETag so that an unchanged object costs a ``304`` and no
    download, checks ``ContentLength`` and streams the body under a size cap.

    Args:
        location: ``s3://bucket/path/to/manifest.json`` (the key is taken literally).
        timeout: seconds allowed for one whole fetch.
        max_bytes: refuse objects larger than this.
        endpoint_url: an S3-compatible endpoint (MinIO, a test server); by default botocore
            resolves it (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, the profile, AWS).
        client_kwargs: more keyword arguments for ``create_client("s3", ...)``
            (``region_name``, ``aws_access_key_id``...); a ``config`` is merged over ours.
        setting: the setting that gave ``location``, for messages.

    Example::

        source = S3ManifestSource("s3://my-assets/build/manifest.json", timeout=5)
        manifest = await source.load()
    """

    errors = S3_ERRORS
    compressed_hint = (
        "set ContentEncoding gzip on the object (aws s3 cp --content-encoding gzip), "
        "or upload it uncompressed"
    )

    def __init__(
        self,
        location: str,
        *,
        timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        endpoint_url: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        setting: str = "CDN_MANIFEST_URL",
    ) -> None:
        self.setting = setting
        self.bucket, self.key = _split_s3_url(location, setting)
        self.location = location
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.endpoint_url = endpoint_url
        self.client_kwargs = dict(client_kwargs or {})
        # One session per source: resolved credentials (an instance role's) are cached
        # across the short-lived clients of loads made outside open()/aclose().
        self._session = get_session()
        self._service_data_read = False
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None
        self._lock = anyio.Lock()
        self._etag: str | None = None

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> S3ManifestSource:
        """An ``s3://bucket/key`` URL."""
        return cls(location, timeout=timeout, max_bytes=max_bytes, setting=setting)

    def _new_client(self) -> ClientCreatorContext[S3Client]:
        kwargs = dict(self.client_kwargs)
        config = AioConfig(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"mode": "standard", "total_max_attempts": 2},
            user_agent_extra=f"quart-cdn/{__version__}",
        )
        if (extra := kwargs.pop("config", None)) is not None:
            config = config.merge(extra)
        if self.endpoint_url is not None:
            kwargs["endpoint_url"] = self.endpoint_url
        return self._session.create_client("s3", config=config, **kwargs)

    async def open(self) -> None:
        # Creating the client can already reach out (an instance role's credentials), so
        # it is created by the first load(), inside its deadline and its error handling.
        if self._stack is None:
            self._stack = AsyncExitStack()

    async def aclose(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def _kept_client(self, stack: AsyncExitStack) -> S3Client:
        async with self._lock:
            if self._client is None:
                self._client = await stack.enter_async_context(self._new_client())
            return self._client

    def _read_service_data(self) -> None:
        # What creating a client reads from botocore's JSON files, synchronously: about
        # 70 ms of blocked event loop the first time. Read here, in a worker thread, it is
        # cached by the session's loader, and creating the client takes a few ms.
        loader = self._session.get_component("data_loader")
        for kind in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
            with contextlib.suppress(Exception):  # not every botocore ships every file
                loader.load_service_model("s3", kind)
        for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
            with contextlib.suppress(Exception):
                loader.load_data(name)
        self._service_data_read = True

    async def load(self) -> Manifest:
        try:
            if not self._service_data_read:
                await anyio.to_thread.run_sync(self._read_service_data)
            with anyio.fail_after(self.timeout):
                if (stack := self._stack) is not None:
                    return await self._fetch(await self._kept_client(stack))
                async with self._new_client() as temporary:
                    return await self._fetch(temporary)
        except ManifestError:
            raise
        except ClientError as exc:
            raise self._client_error(exc) from exc
        except Exception as exc:
            raise self._translate(exc) from exc

    def _client_error(self, exc: ClientError) -> ManifestLoadError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code == "NoSuchBucket":
            return self._fail(f"names a bucket that does not exist ({self.bucket!r}, NoSuchBucket)")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return self._fail(
                f"names a key that does not exist in bucket {self.bucket!r} ({code or 404})"
            )
        if code == "AccessDenied" or status == 403:
            return self._fail(
                f"cannot be read with the AWS credentials in use: access denied ({code or 403})"
            )
        detail = f": {error['Message']}" if error.get("Message") else ""
        return self._fail(f"could not be fetched: S3 returned HTTP {status} {code}{detail}")

    async def _fetch(self, client: S3Client) -> Manifest:
        previous, etag = self._manifest, self._etag
        try:
            if previous is not None and etag is not None:
                response = await client.get_object(
                    Bucket=self.bucket, Key=self.key, IfNoneMatch=etag
                )
            else:
                response = await client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304 and previous is not None and etag is not None:
                return previous
            raise
        body = response["Body"]
        # Not ``as body``: older aiobotocore (2.13) gives the raw aiohttp response there.
        async with body:
            new_etag = response.get("ETag")
            # A server that ignores IfNoneMatch: same ETag, same object, no download.
            if previous is not None and new_etag is not None and new_etag == etag:
                return previous
            declared = response.get("ContentLength")
            if declared is not None and declared > self.max_bytes:
                raise self._too_big()
            encoding = response.get("ContentEncoding") or ""
            data = await self._read(body, encoding, declared, _plain_md5(response))
        manifest = await self._accept(data)
        self._etag = new_etag
        return manifest

    async def _read(
        self, body: Any, encoding: str, declared: int | None, md5: str | None
    ) -> list[bytes]:
        """The decoded object in pieces, checked against its length and plain-MD5 ETag."""
        try:
            codings = parse_content_encoding(_http_codings(encoding))
        except DecodeError as exc:
            raise self._fail(f"has a ContentEncoding quart-cdn cannot decode: {exc}") from exc
        digest = hashlib.md5(usedforsecurity=False)
        try:
            pieces, received = await decode_stream(
                _chunks(body),
                codings,
                limit=self.max_bytes,
                too_big=self._too_big,
                on_raw=digest.update,
            )
        except DecodeError as exc:
            raise self._fail(
                f"is stored with ContentEncoding {encoding[:40]!r} but its body is cut short or "
                f"is not {encoding[:40]} data ({exc}); re-upload it, or fix its ContentEncoding"
            ) from exc
        if declared is not None and received < declared:
            await release(pieces)
            raise self._fail(
                f"broke off mid-answer: {received} of the {declared} bytes S3 announced arrived"
            )
        if md5 is not None and digest.hexdigest() != md5:
            await release(pieces)
            raise self._fail(
                f"arrived damaged: its MD5 {digest.hexdigest()} differs from its ETag {md5}; "
                "it was cut short or changed on the way"
            )
        return pieces


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    while chunk := await body.read(_CHUNK):
        yield chunk


def _http_codings(encoding: str) -> str:
    # aws-chunked describes the upload, not the stored object.
    return ",".join(c for c in encoding.split(",") if c.strip().lower() != "aws-chunked")


def _plain_md5(response: Any) -> str | None:
    """The object's MD5 when its ETag is one: 32 hex digits, not a multipart ``-N`` ETag,
    not an object encrypted with KMS or a customer key (whose ETag is no MD5)."""
    etag = str(response.get("ETag") or "").strip('"').lower()
    encrypted = response.get("SSECustomerAlgorithm") or str(
        response.get("ServerSideEncryption") or ""
    ).startswith("aws:kms")
    if encrypted or not _MD5.fullmatch(etag):
        return None
    return etag
