"""The test HTTP server behaves as the rest of the suite expects."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from _server import ManifestServer

BODY = b'{"js/app.js": "js/app.7bfe0aac.js"}'


async def test_server_200_with_etag(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    async with httpx.AsyncClient() as client:
        response = await client.get(manifest_server.url("/manifest.json"))
    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["content-type"] == "application/json"
    assert response.headers["etag"].startswith('"')
    assert "last-modified" not in response.headers
    [request] = manifest_server.requests
    assert request.method == "GET"
    assert request.path == "/manifest.json"
    assert request.headers["host"] == f"127.0.0.1:{manifest_server.port}"


@pytest.mark.parametrize("weak", [False, True])
async def test_server_304_on_if_none_match(manifest_server: ManifestServer, weak: bool) -> None:
    manifest_server.set("/manifest.json", BODY)
    async with httpx.AsyncClient() as client:
        etag = (await client.get(manifest_server.url("/manifest.json"))).headers["etag"]
        tag = f"W/{etag}" if weak else etag
        response = await client.get(
            manifest_server.url("/manifest.json"), headers={"If-None-Match": tag}
        )
        manifest_server.set("/manifest.json", BODY + b"\n")
        changed = await client.get(
            manifest_server.url("/manifest.json"), headers={"If-None-Match": tag}
        )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


async def test_server_304_on_if_modified_since(manifest_server: ManifestServer) -> None:
    manifest_server.set("/sums.txt", b"abcdef12  static/x.js\n", etag=False, last_modified=True)
    async with httpx.AsyncClient() as client:
        first = await client.get(manifest_server.url("/sums.txt"))
        since = first.headers["last-modified"]
        again = await client.get(
            manifest_server.url("/sums.txt"), headers={"If-Modified-Since": since}
        )
        manifest_server.set("/sums.txt", b"abcdef13  static/x.js\n", etag=False, last_modified=True)
        changed = await client.get(
            manifest_server.url("/sums.txt"), headers={"If-Modified-Since": since}
        )
    assert first.headers["content-type"].startswith("text/plain")
    assert "etag" not in first.headers
    assert again.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["last-modified"] != since


async def test_server_404_unknown_path(manifest_server: ManifestServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(manifest_server.url("/nope.json"))
    assert response.status_code == 404
    assert [r.path for r in manifest_server.requests] == ["/nope.json"]


async def test_server_status_and_headers(manifest_server: ManifestServer) -> None:
    manifest_server.set("/gone", b"gone", status=500, headers={"Content-Type": "text/html"})
    async with httpx.AsyncClient() as client:
        response = await client.get(manifest_server.url("/gone"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html"
    assert response.text == "gone"


async def test_server_reset_forgets_routes(manifest_server: ManifestServer) -> None:
    manifest_server.set("/manifest.json", BODY)
    manifest_server.reset()
    async with httpx.AsyncClient() as client:
        response = await client.get(manifest_server.url("/manifest.json"))
    assert response.status_code == 404


async def test_server_delay_honoured(manifest_server: ManifestServer) -> None:
    manifest_server.set("/slow.json", BODY, delay=0.1)
    async with httpx.AsyncClient() as client:
        start = time.monotonic()
        response = await client.get(manifest_server.url("/slow.json"))
    assert time.monotonic() - start >= 0.1
    assert response.content == BODY


async def test_server_delay_released_on_reset(manifest_server: ManifestServer) -> None:
    """A long delay ends at reset(), and the answer is then sent at once."""
    manifest_server.set("/slow.json", BODY, delay=30)
    async with httpx.AsyncClient(timeout=5) as client:
        task = asyncio.create_task(client.get(manifest_server.url("/slow.json")))
        await manifest_server.wait_for_requests(1)
        manifest_server.reset()
        response = await asyncio.wait_for(task, 2)
    assert response.content == BODY


async def test_server_hang_released(manifest_server: ManifestServer) -> None:
    """A hung request gets no answer; release() closes the connection."""
    manifest_server.hang("/hang.json")
    async with httpx.AsyncClient(timeout=5) as client:
        task = asyncio.create_task(client.get(manifest_server.url("/hang.json")))
        await manifest_server.wait_for_requests(1)
        await asyncio.sleep(0.02)
        assert not task.done()
        manifest_server.release()
        with pytest.raises(httpx.RemoteProtocolError):
            await asyncio.wait_for(task, 2)


async def test_server_drip_stalls(manifest_server: ManifestServer) -> None:
    """Headers come at once, then the body trickles and a read timeout fires."""
    manifest_server.drip("/drip.json", 2)
    timeout = httpx.Timeout(5, read=0.05)
    async with httpx.AsyncClient(timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(manifest_server.url("/drip.json"))


async def test_server_drip_released(manifest_server: ManifestServer) -> None:
    manifest_server.drip("/drip.json", 200)
    async with (
        httpx.AsyncClient(timeout=5) as client,
        client.stream("GET", manifest_server.url("/drip.json")) as response,
    ):
        assert int(response.headers["content-length"]) > 1000
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            async for chunk in response.aiter_raw():
                received += chunk
                if len(received) >= 3:
                    manifest_server.release()
    assert 3 <= len(received) < 100


async def test_server_short_body(manifest_server: ManifestServer) -> None:
    manifest_server.short_body("/short.json", b'{"a": ', 100)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(manifest_server.url("/short.json"))


async def test_server_stop_wakes_handlers() -> None:
    """stop() ends hung handlers and kept-alive connections, and joins every thread."""
    before = set(threading.enumerate())
    server = ManifestServer()
    server.start()
    server.set("/ok", b"ok")
    server.hang("/hang")
    async with httpx.AsyncClient(timeout=5) as idle, httpx.AsyncClient(timeout=5) as client:
        assert (await idle.get(server.url("/ok"))).status_code == 200  # kept alive
        task = asyncio.create_task(client.get(server.url("/hang")))
        await server.wait_for_requests(2)
        server.stop()
        with pytest.raises(httpx.TransportError):
            await asyncio.wait_for(task, 2)
    assert set(threading.enumerate()) <= before
