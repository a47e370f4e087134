"""S3ManifestSource against a real S3 API: moto's server on 127.0.0.1, in a thread.

Every request the S3 server receives is recorded (method, path, If-None-Match, status), so
the tests can tell a conditional 304 from a download. AWS settings come only from the
environment each test sets up; the developer's own ~/.aws is never read.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib
import json
import os
import socket
import sys
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from _server import ManifestServer
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from quart_cdn._sources import source_for
from quart_cdn._sources.s3 import S3_ERRORS, S3ManifestSource
from quart_cdn.exceptions import ManifestLoadError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from types_aiobotocore_s3 import S3Client

BUCKET = "assets"
KEY = "build/manifest.json"
URL = f"s3://{BUCKET}/{KEY}"
MAPPING = {"js/app.js": "js/app.7bfe0aac.js", "css/site.css": "css/site.31d6cfe0.css"}


@dataclasses.dataclass
class S3Request:
    method: str
    path: str
    if_none_match: str | None
    status: int = 0


class _Recorder:
    """WSGI middleware: records each request, can drop Content-Length from answers."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.requests: list[S3Request] = []
        self.strip_content_length = False

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        entry = S3Request(
            environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_IF_NONE_MATCH")
        )
        if not entry.path.startswith("/moto-api/"):
            self.requests.append(entry)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            entry.status = int(status.split()[0])
            # moto sends a Server header of its own next to werkzeug's, which aiohttp's
            # pure-Python parser (PYTHONDEVMODE, no C extensions) refuses as a duplicate.
            dropped = {"server", "content-length"} if self.strip_content_length else {"server"}
            headers = [(k, v) for k, v in headers if k.lower() not in dropped]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def gets(self) -> list[S3Request]:
        return [r for r in self.requests if r.method == "GET" and r.path == f"/{BUCKET}/{KEY}"]


@dataclasses.dataclass
class MotoS3:
    endpoint: str
    recorder: _Recorder

    def admin(self, path: str, body: str = "") -> None:
        httpx.post(f"{self.endpoint}/moto-api/{path}", content=body).raise_for_status()


@pytest.fixture(scope="session")
def _moto_session() -> Iterator[MotoS3]:
    """moto's S3 (and IAM) API on 127.0.0.1, stopped, joined and closed at the end."""
    recorder = _Recorder(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", 0, recorder, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield MotoS3(f"http://127.0.0.1:{server.server_port}", recorder)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """Clear every AWS_* variable; return a setter for the ones a test wants."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


@pytest.fixture
def moto(_moto_session: MotoS3, aws_env: Callable[..., None]) -> Iterator[MotoS3]:
    """The session's moto server, emptied, with fake credentials pointing at it."""
    _moto_session.admin("reset")
    _moto_session.recorder.requests.clear()
    aws_env(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=_moto_session.endpoint,
    )
    yield _moto_session
    _moto_session.recorder.strip_content_length = False


@pytest.fixture
async def s3(moto: MotoS3) -> AsyncIterator[S3Client]:
    """A client on the moto server holding the bucket ``assets`` (empty)."""
    async with get_session().create_client("s3", endpoint_url=moto.endpoint) as client:
        await client.create_bucket(Bucket=BUCKET)
        yield client


async def _put(client: S3Client, body: bytes | dict[str, str]) -> str:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return (await client.put_object(Bucket=BUCKET, Key=KEY, Body=data))["ETag"]


async def test_s3_load_mapping_manifest(s3: S3Client) -> None:
    await _put(s3, MAPPING)
    manifest = await S3ManifestSource(URL).load()
    assert dict(manifest) == MAPPING
    assert manifest.kind == "mapping" and manifest.source == URL


async def test_s3_unchanged_object_costs_a_conditional_304(s3: S3Client, moto: MotoS3) -> None:
    """The second load sends the ETag as If-None-Match, gets a 304 and returns the same object."""
    etag = await _put(s3, MAPPING)
    source = S3ManifestSource(URL)
    await source.open()
    try:
        first = await source.load()
        second = await source.load()
    finally:
        await source.aclose()
    assert second is first
    gets = moto.recorder.gets()
    assert [(r.if_none_match, r.status) for r in gets] == [(None, 200), (etag, 304)]
    assert source._client is None


async def test_s3_updated_object_gives_a_new_manifest(s3: S3Client, moto: MotoS3) -> None:
    await _put(s3, MAPPING)
    source = S3ManifestSource(URL)  # not opened: each load uses a short-lived client
    first = await source.load()
    etag = await _put(s3, {"js/app.js": "js/app.0000beef.js"})
    second = await source.load()
    assert second is not first and second["js/app.js"] == "js/app.0000beef.js"
    assert [r.status for r in moto.recorder.gets()] == [200, 200]
    assert await source.load() is second
    assert moto.recorder.gets()[-1].if_none_match == etag


async def test_s3_missing_bucket(moto: MotoS3) -> None:
    with pytest.raises(ManifestLoadError, match=r"bucket that does not exist.*NoSuchBucket") as e:
        await S3ManifestSource("s3://nowhere/manifest.json").load()
    assert str(e.value).endswith("; check CDN_MANIFEST_URL")
    assert "'s3://nowhere/manifest.json'" in str(e.value)
    assert e.value.source == "s3://nowhere/manifest.json"


async def test_s3_missing_key(s3: S3Client) -> None:
    with pytest.raises(
        ManifestLoadError, match=r"key that does not exist.*NoSuchKey.*CDN_MANIFEST_URL$"
    ):
        await S3ManifestSource(URL).load()


async def test_s3_access_denied(s3: S3Client, moto: MotoS3, aws_env: Callable[..., None]) -> None:
    """An IAM user without policies is refused once moto enforces IAM (reset-auth 0)."""
    await _put(s3, MAPPING)
    async with get_session().create_client("iam", endpoint_url=moto.endpoint) as iam:
        await iam.create_user(UserName="nobody")
        key = (await iam.create_access_key(UserName="nobody"))["AccessKey"]
    aws_env(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    moto.admin("reset-auth", "0")
    try:
        with pytest.raises(ManifestLoadError, match=r"access denied \(AccessDenied\).*URL$"):
            await S3ManifestSource(URL).load()
    finally:
        moto.admin("reset-auth", "inf")
    assert moto.recorder.gets()[-1].status == 403


async def test_s3_no_credentials(
    moto: MotoS3, aws_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ManifestLoadError, match=r"no AWS credentials were found.*URL$"):
        await S3ManifestSource(URL).load()
    assert moto.recorder.gets() == []


async def test_s3_unreachable_endpoint(fake_keys: None) -> None:
    port = _closed_port()
    source = S3ManifestSource(URL, endpoint_url=f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(
        ManifestLoadError, match=rf"could not be reached: .*127\.0\.0\.1:{port}.*URL$"
    ):
        await source.load()


async def test_s3_timeout(manifest_server: ManifestServer, fake_keys: None) -> None:
    """An endpoint that accepts and never answers hits the overall deadline."""
    manifest_server.hang(f"/{BUCKET}/{KEY}")
    source = S3ManifestSource(URL, endpoint_url=manifest_server.url(""), timeout=0.3)
    with pytest.raises(ManifestLoadError, match=r"timed out after 0\.3 s; check CDN_MANIFEST_URL$"):
        await source.load()


async def test_s3_size_cap_from_content_length(s3: S3Client) -> None:
    await _put(s3, MAPPING)
    with pytest.raises(ManifestLoadError, match=r"larger than the 20-byte cap"):
        await S3ManifestSource(URL, max_bytes=20).load()


async def test_s3_size_cap_while_streaming(s3: S3Client, moto: MotoS3) -> None:
    """Without a Content-Length the body is read under the cap, not whole."""
    await _put(s3, MAPPING)
    moto.recorder.strip_content_length = True
    with pytest.raises(ManifestLoadError, match=r"larger than the 20-byte cap"):
        await S3ManifestSource(URL, max_bytes=20).load()


def test_s3_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("aiobotocore", "aiobotocore.config", "aiobotocore.session"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "quart_cdn._sources.s3")
    with pytest.raises(ImportError, match=r"pip install 'quart-cdn\[s3\]'"):
        importlib.import_module("quart_cdn._sources.s3")
    with pytest.raises(ImportError, match=r"quart-cdn\[s3\]"):
        source_for(URL)


@pytest.fixture
def fake_keys(aws_env: Callable[..., None]) -> None:
    """Fake credentials and a region, no endpoint: for the tests that pass ``endpoint_url``."""
    aws_env(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_s3_short_body_broke_off(manifest_server: ManifestServer, fake_keys: None) -> None:
    manifest_server.short_body(f"/{BUCKET}/{KEY}", b'{"a": ', 100)
    source = S3ManifestSource(URL, endpoint_url=manifest_server.url(""))
    with pytest.raises(ManifestLoadError, match=r"broke off mid-answer: .*CDN_MANIFEST_URL$"):
        await source.load()


async def test_s3_same_etag_from_a_server_ignoring_if_none_match(
    manifest_server: ManifestServer, fake_keys: None
) -> None:
    """An S3-compatible server that answers 200 with the same ETag: same object, no parse."""
    path = f"/{BUCKET}/{KEY}"
    manifest_server.set(path, json.dumps(MAPPING).encode(), etag=False, headers={"ETag": '"v1"'})
    source = S3ManifestSource(URL, endpoint_url=manifest_server.url(""))
    first = await source.load()
    assert await source.load() is first
    sent = [r.headers.get("if-none-match") for r in manifest_server.requests]
    assert sent == [None, '"v1"']


async def test_s3_other_status_and_client_kwargs_config(
    manifest_server: ManifestServer, fake_keys: None
) -> None:
    """A config in ``client_kwargs`` is merged over ours (one attempt instead of two)."""
    manifest_server.set(f"/{BUCKET}/{KEY}", b"oops", status=500, etag=False)
    source = S3ManifestSource(
        URL,
        endpoint_url=manifest_server.url(""),
        client_kwargs={"config": AioConfig(retries={"total_max_attempts": 1})},
    )
    with pytest.raises(ManifestLoadError, match=r"S3 returned HTTP 500.*CDN_MANIFEST_URL$"):
        await source.load()
    assert len(manifest_server.requests) == 1


async def test_s3_endpoint_from_aws_endpoint_url(
    s3: S3Client, moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore resolves the generic ``AWS_ENDPOINT_URL`` too, not only ``..._S3``."""
    await _put(s3, MAPPING)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    assert dict(await S3ManifestSource(URL).load()) == MAPPING


async def test_s3_endpoint_url_argument_wins(
    s3: S3Client, moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _put(s3, MAPPING)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{_closed_port()}")
    source = S3ManifestSource(URL, endpoint_url=moto.endpoint)
    assert dict(await source.load()) == MAPPING


async def test_s3_open_keeps_one_client_until_aclose(s3: S3Client) -> None:
    await _put(s3, MAPPING)
    source = S3ManifestSource(URL)
    await source.aclose()  # never opened: nothing to do
    await source.open()
    await source.open()
    await source.load()
    client = source._client
    await source.load()
    assert client is not None and source._client is client
    await source.aclose()
    assert source._client is None
    assert (await source.load()) is not None  # after aclose: a short-lived client again


def test_s3_source_for_dispatches_s3_urls() -> None:
    source = source_for(URL, timeout=3.0, max_bytes=1000)
    assert isinstance(source, S3ManifestSource)
    assert (source.bucket, source.key, source.timeout, source.max_bytes) == (BUCKET, KEY, 3.0, 1000)
    assert S3ManifestSource("s3://b-1/a b?c#d").key == "a b?c#d"


@pytest.mark.parametrize("url", ["s3://bucket", "s3://bucket/", "s3:///key", "s3://b/dir/"])
def test_s3_url_without_bucket_or_key_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"CDN_MANIFEST_URL .* is not an S3 object URL"):
        S3ManifestSource(url)


# -- Issue 10: encodings, truncation, damage, the error table ----------------------------------

CHECKSUMS = b"aaaaaaaa11111111  static/js/app.js\n"


async def test_s3_gzip_object_with_content_encoding_is_decoded(s3: S3Client) -> None:
    await s3.put_object(
        Bucket=BUCKET,
        Key=KEY,
        Body=gzip.compress(json.dumps(MAPPING).encode()),
        ContentEncoding="gzip",
    )
    assert dict(await S3ManifestSource(URL).load()) == MAPPING


async def test_s3_gzip_object_without_content_encoding_says_so(s3: S3Client) -> None:
    """Once reported as 'not UTF-8'; now the message says what the bytes are and what to do."""
    await _put(s3, gzip.compress(json.dumps(MAPPING).encode()))
    with pytest.raises(
        ManifestLoadError,
        match=r"is gzip-compressed data, not a manifest; set ContentEncoding gzip on the object",
    ):
        await S3ManifestSource(URL).load()


async def test_s3_gzip_bomb_refused_at_the_cap(s3: S3Client) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush()
    await s3.put_object(Bucket=BUCKET, Key=KEY, Body=bomb, ContentEncoding="gzip")
    with pytest.raises(ManifestLoadError, match=r"larger than the 1048576-byte cap"):
        await S3ManifestSource(URL, max_bytes=1 << 20).load()


async def test_s3_gzip_object_without_its_end_refused(s3: S3Client) -> None:
    body = gzip.compress(CHECKSUMS)[:-8]
    await s3.put_object(Bucket=BUCKET, Key=KEY, Body=body, ContentEncoding="gzip")
    with pytest.raises(
        ManifestLoadError, match=r"is stored with ContentEncoding 'gzip' but its body is cut short"
    ):
        await S3ManifestSource(URL).load()


async def test_s3_body_whose_md5_differs_from_its_etag_refused(
    manifest_server: ManifestServer, fake_keys: None
) -> None:
    """A plain-MD5 ETag that the bytes do not match: damaged or cut on the way."""
    whole = CHECKSUMS + b"bbbbbbbb22222222  static/css/app.css\n"
    etag = f'"{hashlib.md5(whole).hexdigest()}"'
    manifest_server.set(f"/{BUCKET}/{KEY}", CHECKSUMS, etag=False, headers={"ETag": etag})
    source = S3ManifestSource(URL, endpoint_url=manifest_server.url(""))
    with pytest.raises(ManifestLoadError, match=r"arrived damaged: its MD5 [0-9a-f]{32} differs"):
        await source.load()


async def test_s3_multipart_etag_is_not_taken_for_an_md5(
    manifest_server: ManifestServer, fake_keys: None
) -> None:
    etag = f'"{hashlib.md5(b"x").hexdigest()}-2"'
    manifest_server.set(f"/{BUCKET}/{KEY}", CHECKSUMS, etag=False, headers={"ETag": etag})
    source = S3ManifestSource(URL, endpoint_url=manifest_server.url(""))
    assert len(await source.load()) == 1


def test_s3_error_table_covers_every_exported_error() -> None:
    """Every error aiohttp exports and every botocore error has a line of its own or a base
    class's (the generic fallback is never needed)."""
    import aiohttp
    import botocore.exceptions

    candidates = [getattr(aiohttp, n) for n in aiohttp.__all__]
    candidates += list(vars(botocore.exceptions).values())
    errors = [c for c in candidates if isinstance(c, type) and issubclass(c, Exception)]
    assert len(errors) > 50
    for cls in errors:
        assert any(base in S3_ERRORS for base in cls.__mro__), cls
