"""Load, concurrency and shutdown.

URLs are built from many concurrent requests, from sync views that Quart runs in its
executor, and from plain threads in copied contexts, while the manifest is swapped hundreds
of times: nothing fails, and every page's URLs come from one manifest (a request pins the
manifest it first used). Several workers spread their refreshes (jitter), and a shutdown in
the middle of a fetch is prompt and clean.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from _server import ManifestServer
from quart import Quart, render_template_string

from quart_cdn import CDN, Manifest, ManifestSource, parse_manifest, url_for
from quart_cdn._refresh import JITTER, ManifestRefresher
from quart_cdn._sources import UrlManifestSource

DOMAIN = "cdn.example.com"
FILES = ["js/app.js", "js/vendor.js", "css/app.css", "img/logo.png"]
SWAPS = 300
TEMPLATE = "\n".join(f"{{{{ url_for('static', filename='{name}') }}}}" for name in FILES)
_VERSION = re.compile(r"\?c=([0-9a-f]{16})$")


def manifest_body(generation: int) -> bytes:
    return b"".join(b"%016x  static/%s\n" % (generation, name.encode()) for name in FILES)


def generations(page: list[str]) -> set[int]:
    """The manifest generation of every URL on a page (each must be on the CDN)."""
    found = set()
    for url in page:
        assert url.startswith(f"http://{DOMAIN}/static/"), url
        match = _VERSION.search(url)
        assert match is not None, url
        found.add(int(match[1], 16))
    return found


def page_of_urls() -> list[str]:
    """A page built synchronously, with a little time between its URLs."""
    urls = []
    for name in FILES:
        urls.append(url_for("static", filename=name))
        time.sleep(0.0002)
    return urls


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Quart]:
    path = tmp_path / "manifest.txt"
    path.write_bytes(manifest_body(0))
    app = Quart(__name__, static_folder=str(tmp_path / "static"))
    app.config.update(
        CDN_DOMAIN=DOMAIN, CDN_MANIFEST=True, CDN_MANIFEST_URL=str(path), CDN_MANIFEST_REFRESH=60
    )
    CDN(app)

    @app.route("/async")
    async def async_page() -> str:
        urls = []
        for name in FILES:
            urls.append(url_for("static", filename=name))
            await asyncio.sleep(0)  # let the manifest be swapped mid-page
        return "\n".join(urls)

    @app.route("/template")
    async def template_page() -> str:
        return await render_template_string(TEMPLATE)

    @app.route("/sync")
    def sync_page() -> str:  # Quart runs it in its executor
        return "\n".join(page_of_urls())

    await app.startup()
    try:
        yield app
    finally:
        await app.shutdown()


class GenerationSource(ManifestSource):
    """An in-memory source: each load gives the next generation (swaps cost no I/O, so
    hundreds of them interleave with the pages being built)."""

    location = "generations"

    def __init__(self) -> None:
        self.generation = 0

    async def load(self) -> Manifest:
        self.generation += 1
        return parse_manifest(manifest_body(self.generation), source=self.location)


async def swap_manifest(app: Quart, until: asyncio.Event, minimum: int = SWAPS) -> int:
    """Load new manifests with ``cdn.refresh()``, one per turn of the event loop, at least
    ``minimum`` of them and until ``until`` is set."""
    cdn: CDN = app.extensions["cdn"]
    refresher = app.extensions["quart_cdn.state"].core.refresher
    refresher.source = source = GenerationSource()
    while source.generation < minimum or not until.is_set():
        manifest = await cdn.refresh()
        assert manifest["static/js/app.js"] == f"{source.generation:016x}"
        await asyncio.sleep(0)
    return source.generation


async def while_swapping(app: Quart, work: Callable[[], Any], batches: int = 10) -> list[set[int]]:
    """Run ``work`` (a coroutine function returning pages) at least ``batches`` times, and
    until hundreds of manifests have been swapped in meanwhile."""
    enough = asyncio.Event()
    swapper = asyncio.create_task(swap_manifest(app, enough))
    pages: list[set[int]] = []
    try:
        done = 0
        while not swapper.done():
            pages.extend(generations(page) for page in await work())
            done += 1
            if done >= batches:
                enough.set()
    finally:
        enough.set()
        assert await swapper >= SWAPS
    return pages


@pytest.mark.parametrize("route", ["/async", "/template", "/sync"])
async def test_concurrent_requests_during_swaps_each_page_from_one_manifest(
    app: Quart, route: str
) -> None:
    client = app.test_client()

    async def batch() -> list[list[str]]:
        responses = await asyncio.gather(*(client.get(route) for _ in range(20)))
        pages = []
        for response in responses:
            assert response.status_code == 200
            pages.append((await response.get_data(as_text=True)).splitlines())
        return pages

    pages = await while_swapping(app, batch)
    assert pages and all(len(page) == 1 for page in pages), [p for p in pages if len(p) > 1]
    seen = set().union(*pages)
    assert len(seen) > 5  # the swaps did happen while pages were served


async def test_plain_threads_in_copied_contexts_during_swaps(app: Quart) -> None:
    """Threads started from a request (each in a copy of its context) build that request's
    URLs from the manifest the request pinned; threads in a bare app context see swaps."""
    errors: list[BaseException] = []

    def worker(pages: list[list[str]], count: int) -> None:
        try:
            for _ in range(count):
                pages.append(page_of_urls())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    async def run_threads(count: int) -> list[list[str]]:
        pages: list[list[str]] = []
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(worker, pages, count))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            await asyncio.sleep(0.001)  # the event loop goes on swapping meanwhile
        return pages

    enough = asyncio.Event()
    swapper = asyncio.create_task(swap_manifest(app, enough))
    try:
        async with app.test_request_context("/"):
            request_pages = await run_threads(100)
        async with app.app_context():
            app_pages = await run_threads(100)
    finally:
        enough.set()
        await swapper
    assert errors == []
    assert len({frozenset(generations(page)) for page in request_pages}) == 1
    for page in app_pages:
        generations(page)  # on the CDN and versioned, whichever manifest


# -- Several workers ---------------------------------------------------------------------------


class CountingSource(ManifestSource):
    """A source shared by several refreshers: it records who asked, and when."""

    location = "counting"

    def __init__(self, who: Callable[[], int], now: Callable[[], float]) -> None:
        self.who, self.now = who, now
        self.calls: list[tuple[int, float]] = []

    async def load(self) -> Manifest:
        self.calls.append((self.who(), self.now()))
        await asyncio.sleep(0)
        return Manifest({"static/x.js": "abcdef12"}, kind="checksum")


async def test_two_refreshers_on_one_source_spread_their_requests() -> None:
    """Two workers started together drift apart: each wait is ``interval * (1 ± JITTER)``.

    The clock is virtual: every wait advances the waiting worker's own clock by the delay it
    asked for and returns at once, and ``random`` is seeded, so the test is exact and fast.
    """
    interval, rounds = 600.0, 20
    clocks = {0: 0.0, 1: 0.0}
    refreshers: list[ManifestRefresher] = []

    def who() -> int:
        task = asyncio.current_task()  # a refresher's background task, or its load's
        return next((i for i, r in enumerate(refreshers) if task in (r.task, r.loading)), -1)

    source = CountingSource(who, lambda: clocks.get(who(), 0.0))
    delays: dict[int, list[float]] = {0: [], 1: []}
    rng = random.Random(20240601)

    class VirtualTimer:
        """Each wait advances the waiting worker's virtual clock and is over at once."""

        def uniform(self, low: float, high: float) -> float:
            return rng.uniform(low, high)

        async def wait(self, wake: asyncio.Event, seconds: float) -> None:
            worker = who()
            delays[worker].append(seconds)
            clocks[worker] += seconds
            await asyncio.sleep(0)

    refreshers += [
        ManifestRefresher(source, interval=interval, timer=VirtualTimer()) for _ in range(2)
    ]
    for refresher in refreshers:
        await refresher.start()  # both load at once, at t=0, as workers started together
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while min(len(d) for d in delays.values()) < rounds and loop.time() < deadline:
            await asyncio.sleep(0)
    finally:
        for refresher in refreshers:
            await refresher.stop()
    assert all(len(d) >= rounds for d in delays.values())
    for worker_delays in delays.values():
        assert all(interval * (1 - JITTER) <= d <= interval * (1 + JITTER) for d in worker_delays)
        assert len(set(worker_delays)) == len(worker_delays)  # not a fixed period
    times = {w: [t for who, t in source.calls if who == w][:rounds] for w in (0, 1)}
    gaps = [abs(a - b) for a, b in zip(times[0], times[1], strict=True)]
    # Started together, the workers' requests are soon far apart (seconds, not milliseconds),
    # while each keeps the interval on average.
    assert sum(gap > 1.0 for gap in gaps) >= rounds * 3 // 4, gaps
    for worker_times in times.values():
        assert abs(worker_times[-1] / rounds - interval) < interval * JITTER


# -- Shutdown ----------------------------------------------------------------------------------


async def test_shutdown_during_a_fetch_is_prompt_and_clean(
    manifest_server: ManifestServer, tmp_path: Path
) -> None:
    manifest_server.set("/m", manifest_body(1))
    app = Quart(__name__, static_folder=str(tmp_path / "static"))
    app.config.update(
        CDN_DOMAIN=DOMAIN,
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=manifest_server.url("/m"),
        CDN_MANIFEST_REFRESH=60,
        CDN_MANIFEST_TIMEOUT=30,
    )
    CDN(app)
    await app.startup()
    refresher: ManifestRefresher = app.extensions["quart_cdn.state"].core.refresher
    source = refresher.source
    assert isinstance(source, UrlManifestSource) and source._owned is not None
    client = source._owned
    task = refresher.task
    assert task is not None
    manifest_server.hang("/m")
    refresher.refresh_now()
    await manifest_server.wait_for_requests(2)  # the reload is now in flight, and hangs

    started = time.monotonic()
    await app.shutdown()
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert task.done() and task.cancelled()
    assert refresher.task is None
    assert client.is_closed and source._owned is None
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    manifest_server.release()


async def test_concurrent_cdn_refresh_in_a_serving_app_makes_one_request(
    manifest_server: ManifestServer,
) -> None:
    """100 concurrent ``await cdn.refresh()`` in a serving app (its refresh task running):
    one request to the origin, one manifest for every caller, one swap."""
    manifest_server.set("/manifest.md5", manifest_body(1))
    app = Quart(__name__)
    app.config.update(
        CDN_DOMAIN=DOMAIN,
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=manifest_server.url("/manifest.md5"),
        CDN_MANIFEST_REFRESH=3600,
    )
    cdn = CDN(app)
    async with app.test_app():
        await manifest_server.wait_for_requests(1)  # the startup load
        manifest_server.set("/manifest.md5", manifest_body(2), delay=30)
        async with app.app_context():
            calls = [asyncio.create_task(cdn.refresh()) for _ in range(100)]
            await manifest_server.wait_for_requests(2)
            manifest_server.release()
            with anyio.fail_after(5):
                results = await asyncio.gather(*calls)
        assert len(manifest_server.requests) == 2
        assert all(result is results[0] for result in results)
        assert cdn.manifest is results[0]
        async with app.test_request_context("/"):
            assert url_for("static", filename="js/app.js").endswith(f"?c={2:016x}")
