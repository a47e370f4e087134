"""The manifest refresher (quart_cdn._refresh): first load, background reloads, shutdown.

No test waits for a timer: a fake source signals each load through an asyncio.Event and
`refresh_now()` wakes the background task.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import anyio
import pytest
from _server import ManifestServer

from quart_cdn import (
    Manifest,
    ManifestError,
    ManifestLoadError,
    ManifestSource,
    UrlManifestSource,
    UsageError,
)
from quart_cdn._refresh import (
    JITTER,
    RETRY_CAP,
    RETRY_FIRST,
    ManifestRefresher,
    RefresherState,
    SystemTimer,
)

BLOCK = object()
"""An outcome that makes the fake's load() wait forever (until cancelled)."""

Outcome = Manifest | BaseException | object


def _manifest(version: int) -> Manifest:
    return Manifest({"js/app.js": f"js/app.{version}.js"}, kind="mapping", source="fake")


M1, M2, M3 = _manifest(1), _manifest(2), _manifest(3)


def _error(n: int = 1) -> ManifestLoadError:
    return ManifestLoadError(f"Manifest 'fake://m' returned HTTP 503 ({n})", source="fake://m")


class FakeSource(ManifestSource):
    """Answers each load() with the next outcome; the last one repeats.

    ``started`` is set when a load begins and ``finished`` when it ends (either way); a test
    clears one, triggers a load and waits for it.
    """

    def __init__(self, *outcomes: Outcome) -> None:
        self.location = "fake://m"
        self.outcomes = list(outcomes)
        self.loads = 0
        self.opened = 0
        self.closed = 0
        self.cancelled = 0
        self.started = asyncio.Event()
        self.finished = asyncio.Event()

    async def open(self) -> None:
        self.opened += 1

    async def aclose(self) -> None:
        self.closed += 1

    async def load(self) -> Manifest:
        self.loads += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        self.started.set()
        try:
            if outcome is BLOCK:
                await asyncio.Event().wait()
            if isinstance(outcome, BaseException):
                raise outcome
            assert isinstance(outcome, Manifest)
            return outcome
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.finished.set()


async def _wait(event: asyncio.Event, timeout: float = 2.0) -> None:
    with anyio.fail_after(timeout):
        await event.wait()
    event.clear()


async def _reload(refresher: ManifestRefresher, fake: FakeSource) -> None:
    """Wake the background task and wait until its load has ended and been handled: the
    task waits again (its SignalTimer says so) or has ended."""
    timer, task = refresher.timer, refresher.task
    assert isinstance(timer, SignalTimer) and task is not None
    await _wait(timer.idle)  # the task waits (from its start or its last reload): clear
    fake.finished.clear()
    refresher.refresh_now()
    await _wait(fake.finished)
    await _until(lambda: timer.idle.is_set() or task.done())


class SignalTimer(SystemTimer):
    """The real clock, and an event set each time the background task starts to wait."""

    def __init__(self) -> None:
        self.idle = asyncio.Event()

    async def wait(self, wake: asyncio.Event, seconds: float) -> None:
        self.idle.set()
        await super().wait(wake, seconds)


async def _until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "quart_cdn" and r.levelno == level]


@pytest.fixture
def swaps() -> list[Manifest]:
    return []


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="quart_cdn")
    return caplog


# -- start ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [None, 0, 3600])
async def test_refresher_start_loads(interval: float | None, swaps: list[Manifest]) -> None:
    fake = FakeSource(M1)
    refresher = ManifestRefresher(fake, interval=interval, on_swap=swaps.append)
    assert refresher.manifest is None
    assert refresher.state is RefresherState.IDLE
    await refresher.start()
    try:
        assert refresher.manifest is M1
        assert swaps == [M1]
        assert refresher.last_error is None
        assert fake.opened == 1 and fake.loads == 1
        assert refresher.state is RefresherState.RUNNING
        # A task only when there is something to do in the background.
        assert (refresher.task is not None) is bool(interval)
    finally:
        await refresher.stop()


async def test_refresher_strict_failure_raises_and_nothing_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = _error()
    fake = FakeSource(error)
    refresher = ManifestRefresher(fake, interval=3600, strict=True)
    tasks_before = asyncio.all_tasks()
    with pytest.raises(ManifestLoadError, match=r"returned HTTP 503") as info:
        await refresher.start()
    assert info.value is error
    assert refresher.task is None
    assert refresher.state is RefresherState.STOPPED
    assert refresher.manifest is None
    assert refresher.last_error is error
    assert fake.closed == 1  # the source was released
    assert asyncio.all_tasks() == tasks_before
    assert _records(caplog, logging.WARNING) == []


async def test_refresher_strict_failure_then_start_again_works() -> None:
    fake = FakeSource(_error(), M1)
    refresher = ManifestRefresher(fake, interval=3600)
    with pytest.raises(ManifestError):
        await refresher.start()
    await refresher.start()
    try:
        assert refresher.manifest is M1
        assert refresher.last_error is None
    finally:
        await refresher.stop()


@pytest.mark.parametrize("strict", [True, False])
async def test_refresher_start_unexpected_error_releases_source(strict: bool) -> None:
    """Whatever the first load raises, start() releases the source it opened."""
    fake = FakeSource(RuntimeError("bug in a source"))
    refresher = ManifestRefresher(fake, interval=3600, strict=strict)
    with pytest.raises(RuntimeError, match="bug in a source"):
        await refresher.start()
    assert refresher.task is None
    assert fake.closed == fake.opened


@pytest.mark.parametrize("interval", [None, 3600])
async def test_refresher_non_strict_failure_warns_once_and_retries_until_success(
    caplog: pytest.LogCaptureFixture, swaps: list[Manifest], interval: float | None
) -> None:
    fake = FakeSource(_error(1), _error(2), M1)
    refresher = ManifestRefresher(
        fake, interval=interval, strict=False, on_swap=swaps.append, timer=SignalTimer()
    )
    await refresher.start()
    try:
        [warning] = _records(caplog, logging.WARNING)
        assert "returned HTTP 503 (1)" in warning.getMessage()
        assert "URLs fall back until a load succeeds" in warning.getMessage()
        assert refresher.manifest is None
        assert refresher.state is RefresherState.RUNNING
        task = refresher.task
        assert task is not None and not task.done()

        await _reload(refresher, fake)  # fails again: logged, still retrying
        assert refresher.manifest is None
        assert isinstance(refresher.last_error, ManifestLoadError)
        assert len(_records(caplog, logging.WARNING)) == 2
        assert not task.done()

        await _reload(refresher, fake)  # succeeds
        assert refresher.manifest is M1
        assert refresher.last_error is None
        assert swaps == [M1]
        if interval is None:
            # Nothing more to do: the task ends by itself, without an error.
            await _until(task.done)
            assert not task.cancelled() and task.exception() is None
        else:
            assert not task.done()
    finally:
        await refresher.stop()
    assert len(_records(caplog, logging.WARNING)) == 2
    assert _records(caplog, logging.ERROR) == []


# -- background reloads ---------------------------------------------------------------------


async def test_refresher_interval_reload_swaps_and_calls_on_swap(swaps: list[Manifest]) -> None:
    fake = FakeSource(M1, M2, M3)
    refresher = ManifestRefresher(fake, interval=3600, on_swap=swaps.append, timer=SignalTimer())
    await refresher.start()
    try:
        await _reload(refresher, fake)
        assert refresher.manifest is M2
        assert swaps == [M1, M2]
        await _reload(refresher, fake)
        assert refresher.manifest is M3
        assert swaps == [M1, M2, M3]
    finally:
        await refresher.stop()


async def test_refresher_interval_reloads_on_its_own(
    monkeypatch: pytest.MonkeyPatch, swaps: list[Manifest]
) -> None:
    """The timer, not only refresh_now(), triggers a reload (with a 10 ms interval)."""
    fake = FakeSource(M1, M2)
    refresher = ManifestRefresher(fake, interval=0.01, on_swap=swaps.append)
    await refresher.start()
    try:
        await _until(lambda: refresher.manifest is M2)
        assert swaps == [M1, M2]
    finally:
        await refresher.stop()


async def test_refresher_same_object_does_not_call_on_swap(swaps: list[Manifest]) -> None:
    fake = FakeSource(M1, M1, _manifest(1))
    refresher = ManifestRefresher(fake, interval=3600, on_swap=swaps.append, timer=SignalTimer())
    await refresher.start()
    try:
        await _reload(refresher, fake)  # the very same object: nothing changed
        assert swaps == [M1]
        await _reload(refresher, fake)  # an equal but new object is swapped in
        assert len(swaps) == 2
        assert refresher.manifest is swaps[1]
    finally:
        await refresher.stop()


async def test_refresher_failed_reload_keeps_last_good_manifest(
    caplog: pytest.LogCaptureFixture, swaps: list[Manifest]
) -> None:
    errors = [_error(1), _error(2)]
    fake = FakeSource(M1, *errors, M2)
    refresher = ManifestRefresher(fake, interval=3600, on_swap=swaps.append, timer=SignalTimer())
    await refresher.start()
    try:
        task = refresher.task
        assert task is not None
        for n, error in enumerate(errors, start=1):
            await _reload(refresher, fake)
            assert refresher.manifest is M1
            assert refresher.last_error is error
            assert not task.done()
            warnings = _records(caplog, logging.WARNING)
            assert len(warnings) == n  # one record per failure
            assert warnings[-1].getMessage() == (
                f"Manifest refresh failed, keeping the last good one: {error}"
            )
        await _reload(refresher, fake)
        assert refresher.manifest is M2
        assert refresher.last_error is None
        assert swaps == [M1, M2]
    finally:
        await refresher.stop()


async def test_refresher_unexpected_error_is_logged_and_loop_continues(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeSource(M1, ZeroDivisionError("oops"), M2)
    refresher = ManifestRefresher(fake, interval=3600, timer=SignalTimer())
    await refresher.start()
    try:
        task = refresher.task
        assert task is not None
        await _reload(refresher, fake)
        [record] = _records(caplog, logging.ERROR)
        message = record.getMessage()
        assert message.startswith(
            "Unexpected error in the manifest refresh task: ZeroDivisionError('oops')\n"
        )
        assert "in load" in message  # where it was raised: the innermost frames
        assert len(message) < 1024
        assert isinstance(refresher.last_error, ManifestError)
        assert re.search(
            r"refresh failed unexpectedly: ZeroDivisionError\('oops'\)", str(refresher.last_error)
        )
        assert refresher.last_error.source == "fake://m"
        assert refresher.manifest is M1
        assert not task.done()
        await _reload(refresher, fake)
        assert refresher.manifest is M2
        assert refresher.last_error is None
    finally:
        await refresher.stop()


async def test_refresher_refresh_now_before_start_is_harmless() -> None:
    refresher = ManifestRefresher(FakeSource(M1))
    refresher.refresh_now()
    assert refresher.task is None


async def test_refresher_refresh_returns_manifest_and_raises_on_failure(
    swaps: list[Manifest],
) -> None:
    error = _error()
    fake = FakeSource(M1, error, M2)
    refresher = ManifestRefresher(fake, on_swap=swaps.append)
    assert await refresher.refresh() is M1
    with pytest.raises(ManifestLoadError) as info:
        await refresher.refresh()
    assert info.value is error
    assert refresher.manifest is M1
    assert refresher.last_error is error
    assert await refresher.refresh() is M2
    assert swaps == [M1, M2]


# -- stop -----------------------------------------------------------------------------------


async def test_refresher_stop_cancels_and_awaits_task() -> None:
    fake = FakeSource(M1)
    refresher = ManifestRefresher(fake, interval=3600)
    await refresher.start()
    task = refresher.task
    assert task is not None
    await refresher.stop()
    assert task.done() and task.cancelled()
    assert refresher.task is None
    assert refresher.state is RefresherState.STOPPED
    assert fake.closed == 1
    assert refresher.manifest is M1  # the last manifest stays readable


async def test_refresher_stop_while_load_in_flight() -> None:
    fake = FakeSource(M1, BLOCK)
    refresher = ManifestRefresher(fake, interval=3600)
    await refresher.start()
    task = refresher.task
    assert task is not None
    fake.started.clear()
    refresher.refresh_now()
    await _wait(fake.started)
    with anyio.fail_after(1):
        await refresher.stop()
    assert task.done()
    assert fake.cancelled == 1
    assert fake.closed == 1


async def test_refresher_stop_while_real_fetch_hangs(manifest_server: ManifestServer) -> None:
    """Shutdown cancels a fetch stuck inside httpx and anyio's deadline (the wait_for pitfall)."""
    manifest_server.set("/manifest.json", b'{"js/app.js": "js/app.1.js"}')
    source = UrlManifestSource(manifest_server.url("/manifest.json"), timeout=30)
    refresher = ManifestRefresher(source, interval=3600)
    await refresher.start()
    task = refresher.task
    assert task is not None
    manifest_server.hang("/manifest.json")
    refresher.refresh_now()
    await manifest_server.wait_for_requests(2)
    started = time.monotonic()
    with anyio.fail_after(2):
        await refresher.stop()
    assert time.monotonic() - started < 1
    assert task.done()
    assert source._owned is None  # the pooled client was closed
    assert refresher.manifest is not None


async def test_refresher_stop_during_non_strict_retry() -> None:
    fake = FakeSource(_error(), BLOCK)
    refresher = ManifestRefresher(fake, strict=False)
    await refresher.start()
    task = refresher.task
    assert task is not None
    await refresher.stop()
    assert task.done()


async def test_refresher_stop_is_idempotent() -> None:
    fake = FakeSource(M1)
    refresher = ManifestRefresher(fake, interval=3600)
    await refresher.stop()  # before start: nothing to do
    states = [refresher.state]
    await refresher.start()
    await refresher.stop()
    await refresher.stop()
    assert refresher.task is None
    states.append(refresher.state)
    assert states == [RefresherState.IDLE, RefresherState.STOPPED]


async def test_refresher_start_twice_raises() -> None:
    fake = FakeSource(M1)
    refresher = ManifestRefresher(fake, interval=3600)
    await refresher.start()
    try:
        task = refresher.task
        with pytest.raises(UsageError, match=r"start\(\) called twice without stop\(\)"):
            await refresher.start()
        assert refresher.task is task
        assert fake.loads == 1
    finally:
        await refresher.stop()


@pytest.mark.parametrize("interval", [None, 3600])
async def test_refresher_restart_after_stop(interval: float | None, swaps: list[Manifest]) -> None:
    fake = FakeSource(M1, M2, M3)
    refresher = ManifestRefresher(
        fake, interval=interval, on_swap=swaps.append, timer=SignalTimer()
    )
    await refresher.start()
    await refresher.stop()
    await refresher.start()
    try:
        assert refresher.manifest is M2
        assert refresher.state is RefresherState.RUNNING
        if interval:
            await _reload(refresher, fake)
            assert refresher.manifest is M3
    finally:
        await refresher.stop()
    assert fake.opened == fake.closed == 2


# -- timing: jitter and backoff, checked without waiting ------------------------------------


def test_refresher_constants() -> None:
    assert (RETRY_FIRST, RETRY_CAP, JITTER) == (1.0, 60.0, 0.1)


class FakeTimer:
    """A :class:`~quart_cdn._refresh.Timer` that needs no real time: every wait returns at
    once, is recorded and moves its clock on, and the jitter is the middle of its range
    unless told otherwise."""

    def __init__(self, pick: Callable[[float, float], float] = lambda a, b: (a + b) / 2) -> None:
        self.pick = pick
        self.waits: list[float] = []
        self.now = 0.0

    def uniform(self, low: float, high: float) -> float:
        return self.pick(low, high)

    async def wait(self, wake: asyncio.Event, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize(("interval", "base"), [(300.0, 300.0), (10.0, 10.0), (None, 4.0)])
def test_refresher_delay_jitter_within_ten_percent(interval: float | None, base: float) -> None:
    refresher = ManifestRefresher(FakeSource(M1), interval=interval)
    delays = [refresher._delay(base) for _ in range(500)]
    assert all(base * 0.9 <= d <= base * 1.1 for d in delays)
    assert len(set(delays)) > 1  # it does vary
    assert min(delays) < base < max(delays)


@pytest.mark.parametrize(("pick", "factor"), [(min, 0.9), (max, 1.1)])
def test_refresher_delay_jitter_bounds(
    pick: Callable[[float, float], float], factor: float
) -> None:
    refresher = ManifestRefresher(FakeSource(M1), interval=100, timer=FakeTimer(pick))
    assert refresher._delay(100) == pytest.approx(100 * factor)


async def test_refresher_backoff_doubles_capped_at_sixty(caplog: pytest.LogCaptureFixture) -> None:
    """Without an interval, a failing first load is retried after 1, 2, 4 ... 60, 60 s."""
    failures = 9
    fake = FakeSource(*[_error(n) for n in range(failures)], M1)
    timer = FakeTimer()
    refresher = ManifestRefresher(fake, strict=False, timer=timer)
    await refresher.start()
    try:
        task = refresher.task
        assert task is not None
        await _until(task.done)
        assert refresher.manifest is M1
    finally:
        await refresher.stop()
    assert timer.waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert fake.loads == failures + 1
    assert len(_records(caplog, logging.WARNING)) == failures


async def test_refresher_retries_at_interval_when_set() -> None:
    """With an interval, a failing first load is retried every interval, not with a backoff."""
    fake = FakeSource(_error(1), _error(2), M1, BLOCK)
    timer = FakeTimer()
    refresher = ManifestRefresher(fake, interval=300, strict=False, timer=timer)
    await refresher.start()
    try:
        await _until(lambda: fake.loads == 4)
    finally:
        await refresher.stop()
    assert timer.waits == [300.0, 300.0, 300.0]
    assert refresher.manifest is M1


# -- concurrent reloads share one load (issue 10, item 8) -----------------------------------


BODY = b'{"js/app.js": "js/app.1.js"}'


async def test_refresher_concurrent_refreshes_make_one_request(
    manifest_server: ManifestServer, swaps: list[Manifest]
) -> None:
    """100 concurrent refresh() calls make one request and all return its manifest."""
    manifest_server.set("/manifest.json", BODY, delay=30)  # answered on release()
    source = UrlManifestSource(manifest_server.url("/manifest.json"), timeout=30)
    refresher = ManifestRefresher(source, on_swap=swaps.append)
    try:
        calls = [asyncio.create_task(refresher.refresh()) for _ in range(100)]
        await manifest_server.wait_for_requests(1)
        await asyncio.sleep(0)  # let every call reach the wait
        manifest_server.release()
        with anyio.fail_after(5):
            results = await asyncio.gather(*calls)
    finally:
        await refresher.stop()
    assert len(manifest_server.requests) == 1
    assert all(result is results[0] for result in results)
    assert swaps == [results[0]]


async def test_refresher_concurrent_refreshes_share_one_error(
    manifest_server: ManifestServer,
) -> None:
    manifest_server.set("/manifest.json", b"gone", status=404, delay=30)
    source = UrlManifestSource(manifest_server.url("/manifest.json"), timeout=30)
    refresher = ManifestRefresher(source)
    try:
        calls = [asyncio.create_task(refresher.refresh()) for _ in range(100)]
        await manifest_server.wait_for_requests(1)
        manifest_server.release()
        with anyio.fail_after(5):
            results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await refresher.stop()
    assert len(manifest_server.requests) == 1
    assert isinstance(results[0], ManifestLoadError) and "404" in str(results[0])
    assert all(result is results[0] for result in results)
    assert refresher.last_error is results[0]


async def test_refresher_concurrent_refreshes_against_hung_origin_wait_one_timeout(
    manifest_server: ManifestServer,
) -> None:
    """20 callers against an origin that never answers: one request, and every caller has
    its error after one timeout (one after the other, the last would wait 20 of them)."""
    manifest_server.hang("/manifest.json")
    source = UrlManifestSource(manifest_server.url("/manifest.json"), timeout=0.5)
    refresher = ManifestRefresher(source)
    try:
        with anyio.fail_after(3):
            results = await asyncio.gather(
                *(refresher.refresh() for _ in range(20)), return_exceptions=True
            )
    finally:
        await refresher.stop()
    assert len(manifest_server.requests) == 1
    assert all(isinstance(result, ManifestLoadError) for result in results)
    assert all(result is results[0] for result in results)


async def test_refresher_later_refresh_after_a_shared_one_loads_again(
    manifest_server: ManifestServer,
) -> None:
    """Sharing lasts while a load is in flight: the next call makes a request of its own."""
    manifest_server.set("/manifest.json", BODY, etag=False)
    source = UrlManifestSource(manifest_server.url("/manifest.json"), timeout=30)
    refresher = ManifestRefresher(source)
    try:
        await asyncio.gather(refresher.refresh(), refresher.refresh())
        await refresher.refresh()
    finally:
        await refresher.stop()
    assert len(manifest_server.requests) == 2


async def test_refresher_cancelled_caller_leaves_the_shared_load_running(
    manifest_server: ManifestServer,
) -> None:
    manifest_server.set("/manifest.json", BODY, delay=30)
    source = UrlManifestSource(manifest_server.url("/manifest.json"), timeout=30)
    refresher = ManifestRefresher(source)
    try:
        first = asyncio.create_task(refresher.refresh())
        second = asyncio.create_task(refresher.refresh())
        await manifest_server.wait_for_requests(1)
        first.cancel()
        await asyncio.wait([first])
        assert first.cancelled()
        loading = refresher.loading
        assert loading is not None and not loading.done()
        manifest_server.release()
        with anyio.fail_after(5):
            manifest = await second
    finally:
        await refresher.stop()
    assert refresher.manifest is manifest
    assert len(manifest_server.requests) == 1


async def test_refresher_cancelled_only_caller_still_swaps_in() -> None:
    gate = asyncio.Event()
    fake = GatedSource(gate, M1)
    refresher = ManifestRefresher(fake)
    caller = asyncio.create_task(refresher.refresh())
    await _wait(fake.started)
    caller.cancel()
    await asyncio.wait([caller])
    gate.set()
    await _until(lambda: refresher.manifest is M1)
    assert fake.cancelled == 0
    await refresher.stop()


async def test_refresher_background_reload_joins_the_refresh_in_flight(
    swaps: list[Manifest],
) -> None:
    gate = asyncio.Event()
    fake = GatedSource(gate, M1, M2, M3)
    gate.set()
    refresher = ManifestRefresher(fake, interval=3600, on_swap=swaps.append, timer=SignalTimer())
    await refresher.start()
    try:
        timer = refresher.timer
        assert isinstance(timer, SignalTimer)
        await _wait(timer.idle)
        gate.clear()
        fake.started.clear()
        caller = asyncio.create_task(refresher.refresh())
        await _wait(fake.started)
        refresher.refresh_now()  # the background task wakes while that load is in flight
        await _until(lambda: not refresher._wake or not refresher._wake.is_set())
        gate.set()
        assert await caller is M2
        await _wait(timer.idle)  # the task has handled the shared outcome and waits again
        assert fake.loads == 2
        assert swaps == [M1, M2]
    finally:
        await refresher.stop()


async def test_refresher_stop_cancels_the_shared_load_and_its_callers_get_an_error() -> None:
    gate = asyncio.Event()
    fake = GatedSource(gate, M1)
    refresher = ManifestRefresher(fake)
    callers = [asyncio.create_task(refresher.refresh()) for _ in range(3)]
    await _wait(fake.started)
    with anyio.fail_after(2):
        await refresher.stop()
        results = await asyncio.gather(*callers, return_exceptions=True)
    assert fake.cancelled == 1 and fake.loads == 1
    for result in results:
        assert isinstance(result, ManifestLoadError)
        assert "cancelled because the refresher is stopping" in str(result)
    assert refresher.loading is None


async def test_refresher_start_cancelled_cancels_its_load() -> None:
    gate = asyncio.Event()
    fake = GatedSource(gate, M1)
    refresher = ManifestRefresher(fake, interval=3600)
    starting = asyncio.create_task(refresher.start())
    await _wait(fake.started)
    starting.cancel()
    await asyncio.wait([starting])
    assert starting.cancelled()
    assert fake.cancelled == 1
    assert fake.closed == fake.opened == 1
    assert refresher.state is RefresherState.STOPPED


class GatedSource(FakeSource):
    """A FakeSource whose every load waits for ``gate`` to be set."""

    def __init__(self, gate: asyncio.Event, *outcomes: Outcome) -> None:
        super().__init__(*outcomes)
        self.gate = gate

    async def load(self) -> Manifest:
        self.started.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            self.loads += 1
            raise
        return await super().load()


# -- logs stay small (issue 10, item 5) -----------------------------------------------------


async def test_refresher_identical_failures_log_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An origin failing the same way every second for five minutes logs five lines."""
    error = _error()
    fake = FakeSource(M1, *[error] * 300, BLOCK)
    timer = FakeTimer()
    refresher = ManifestRefresher(fake, interval=1.0, timer=timer)
    await refresher.start()
    try:
        await _until(lambda: fake.loads == 302)
    finally:
        await refresher.stop()
    warnings = [r.getMessage() for r in _records(caplog, logging.WARNING)]
    # Failures at 1, 2, ... 300 s: logged at 1, 61, 121, 181 and 241 s.
    assert len(warnings) == 5
    assert warnings[0] == f"Manifest refresh failed, keeping the last good one: {error}"
    assert all(w.endswith(" (59 more in the last minute)") for w in warnings[1:])


async def test_refresher_log_records_are_small(caplog: pytest.LogCaptureFixture) -> None:
    """A 5 MB error message (a hostile body quoted whole) logs a record under 1 KB."""
    huge = ManifestLoadError("Manifest 'fake://m' is bad: " + "x" * 5_000_000, source="fake://m")
    fake = FakeSource(huge, huge, RuntimeError("y" * 5_000_000), M1)
    refresher = ManifestRefresher(fake, strict=False, timer=FakeTimer())
    await refresher.start()
    try:
        await _until(lambda: refresher.manifest is M1)
    finally:
        await refresher.stop()
    records = [r.getMessage() for r in caplog.records if r.name == "quart_cdn"]
    assert len(records) == 3
    assert all(len(message) < 1024 for message in records)
    assert "4,999,628 more characters" in records[0]  # says how much was left out
    assert refresher.last_error is None


async def test_refresher_retry_before_any_load_does_not_claim_a_good_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before any manifest was loaded, a failed retry says so, not "keeping the last good
    one"; once one was loaded, a failed reload does."""
    fake = FakeSource(_error(1), _error(2), M1, _error(3), BLOCK)
    refresher = ManifestRefresher(fake, interval=300, strict=False, timer=FakeTimer())
    await refresher.start()
    try:
        await _until(lambda: fake.loads == 5)
    finally:
        await refresher.stop()
    messages = [r.getMessage() for r in _records(caplog, logging.WARNING)]
    assert "none loaded yet" in messages[1] and "last good" not in messages[1]
    assert messages[-1].startswith("Manifest refresh failed, keeping the last good one")
