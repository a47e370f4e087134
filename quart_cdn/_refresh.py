"""Keeping the manifest current: the first load, a timed background reload, and shutdown.

:class:`ManifestRefresher` owns one source, the manifest in force and at most one
``asyncio.Task``. The task is created at :meth:`~ManifestRefresher.start` and cancelled and
awaited at :meth:`~ManifestRefresher.stop`; it never ends on a failed load. Deadlines use
anyio cancel scopes rather than ``asyncio.wait_for``, which before Python 3.12 can swallow
the cancellation that shutdown sends.

At most one load is in flight at a time: it runs in a task of its own, owned by the
refresher, and every :meth:`~ManifestRefresher.refresh` made meanwhile (the background
task's too) waits for that load and shares its result or its error. A caller that is
cancelled while it waits leaves the load running for the others; :meth:`stop` cancels it.
What is logged goes through a :class:`~quart_cdn._log.LogLimiter`: a failure repeated every
second is one line a minute.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
import traceback
from collections.abc import Callable
from typing import Final, Protocol

import anyio

from ._log import MAX_ERROR, LogLimiter, cut
from ._manifest import Manifest
from ._release import Releaser
from ._sources import ManifestSource
from .exceptions import ManifestError, ManifestLoadError, UsageError

__all__ = ["ManifestRefresher", "RefresherState", "SystemTimer", "Timer"]

logger = logging.getLogger("quart_cdn")

#: Jitter applied to every wait: ``interval * (1 ± JITTER)``, so that several workers
#: started together drift apart instead of hitting the manifest server in the same second.
JITTER: Final = 0.1
RETRY_FIRST: Final = 1.0
RETRY_CAP: Final = 60.0


class RefresherState(enum.Enum):
    """Where a :class:`ManifestRefresher` is in its life; each misuse has its own message."""

    IDLE = "idle"  # never started
    STARTING = "starting"  # start() is loading the first manifest
    RUNNING = "running"  # started; the background task runs when one is needed
    STOPPED = "stopped"  # stop() has run; start() may run again (an app served twice)


class Timer(Protocol):
    """What the background task waits with; tests inject one that needs no real time.

    A timer may also have ``monotonic()``, the clock that the log's rate limit reads (see
    :class:`~quart_cdn._log.LogLimiter`); without it, the real one is read.
    """

    def uniform(self, low: float, high: float) -> float:
        """A random number in ``[low, high]``, for the jitter."""
        ...

    async def wait(self, wake: asyncio.Event, seconds: float) -> None:
        """Return after ``seconds``, or as soon as ``wake`` is set."""
        ...


class SystemTimer:
    """The real clock and :func:`random.uniform`."""

    def uniform(self, low: float, high: float) -> float:
        return random.uniform(low, high)

    async def wait(self, wake: asyncio.Event, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await wake.wait()

    def monotonic(self) -> float:
        return time.monotonic()


class ManifestRefresher:
    """Loads a manifest from ``source`` and keeps it current.

    Args:
        source: where the manifest comes from.
        interval: seconds between background reloads; ``None`` or ``0``: load once. Any
            positive value is taken here (tests use milliseconds); the settings refuse
            less than :data:`~quart_cdn._config.MIN_REFRESH`.
        strict: a failed first load makes :meth:`start` raise; otherwise it is logged and
            retried in the background (every ``interval`` seconds, or with a backoff from
            about 1 s to about a minute) until a load succeeds.
        on_swap: called with each new manifest, right after it is swapped in.
        timer: how the background task waits, draws its jitter and reads the clock (a
            :class:`Timer`); the real clock by default.

    Example::

        refresher = ManifestRefresher(source_for("manifest.json"), interval=300)
        await refresher.start()      # first load; raises ManifestError when strict
        ...
        await refresher.stop()       # cancels and awaits the task, closes the source
    """

    def __init__(
        self,
        source: ManifestSource,
        *,
        interval: float | None = None,
        strict: bool = True,
        on_swap: Callable[[Manifest], None] | None = None,
        timer: Timer | None = None,
    ) -> None:
        self.source = source
        self.interval = interval or None
        self.strict = strict
        self.on_swap = on_swap
        self.timer: Timer = timer or SystemTimer()
        #: The manifest in force, or ``None`` before the first successful load.
        self.manifest: Manifest | None = None
        #: The error of the last failed load, cleared by the next successful one.
        self.last_error: ManifestError | None = None
        self.state = RefresherState.IDLE
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loading: asyncio.Task[Manifest] | None = None
        self._releaser = Releaser()
        clock: Callable[[], float] = getattr(self.timer, "monotonic", time.monotonic)
        self._log = LogLimiter(logger, clock=clock)

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The background task while one runs."""
        return self._task

    @property
    def loading(self) -> asyncio.Task[Manifest] | None:
        """The load in flight, which every :meth:`refresh` made meanwhile shares."""
        return self._loading

    async def refresh(self) -> Manifest:
        """Load the manifest now and swap it in; on failure keep the old one and raise.

        A call made while a load is in flight (another caller's, or the background
        task's) waits for that load instead of starting another, and shares its result or
        its error: a hundred concurrent calls make one request. Cancelling the call stops
        the wait, not the load.

        Raises:
            ManifestError: the load failed (the same error for every caller that shared
                it), or :meth:`stop` cancelled it.
        """
        task = self._loading
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.get_running_loop().create_task(
                self._load(), name=f"quart-cdn load {self.source.location}"
            )
            self._loading = task
            task.add_done_callback(self._loaded)
        # asyncio.wait neither cancels the shared task when this caller is cancelled nor
        # raises its outcome: each caller reads the outcome itself below.
        await asyncio.wait([task])
        if task.cancelled():
            raise ManifestLoadError(
                f"Manifest {self.source.location!r} was not loaded: the load was cancelled "
                "because the refresher is stopping",
                source=self.source.location,
            )
        return task.result()

    async def _load(self) -> Manifest:
        try:
            manifest = await self.source.load()
        except ManifestError as exc:
            self.last_error = exc
            raise
        self.last_error = None
        if manifest is not self.manifest:
            previous, self.manifest = self.manifest, manifest
            if self.on_swap is not None:
                self.on_swap(manifest)
            if previous is not None:
                self._releaser.retire(previous)  # freed a slice at a time, when unheld
        return manifest

    def _loaded(self, task: asyncio.Task[Manifest]) -> None:
        if self._loading is task:
            self._loading = None
        if not task.cancelled():
            task.exception()  # retrieved: its callers (if any are left) raise it

    async def start(self) -> None:
        """Load the manifest and start the background task when one is needed.

        Raises:
            ManifestError: strict mode and the first load failed (nothing keeps running).
            UsageError: already started, or starting.
        """
        if self.state is RefresherState.RUNNING:
            raise UsageError("ManifestRefresher.start() called twice without stop()")
        if self.state is RefresherState.STARTING:
            raise UsageError("ManifestRefresher.start() called while another start() runs")
        self.state = RefresherState.STARTING
        await self.source.open()
        try:
            await self.refresh()
        except ManifestError as exc:
            if self.strict:
                await self.stop()
                raise
            self._log.log(
                logging.WARNING, "%s; URLs fall back until a load succeeds", cut(exc, MAX_ERROR)
            )
            failed = True
        except BaseException:
            await self.stop()  # cancelled: the load goes too, and the source is released
            raise
        else:
            failed = False
        self.state = RefresherState.RUNNING
        self._wake = asyncio.Event()
        if failed or self.interval:
            self._task = asyncio.get_running_loop().create_task(
                self._run(retrying=failed), name=f"quart-cdn refresh {self.source.location}"
            )

    def refresh_now(self) -> None:
        """Wake the background task so that it reloads now instead of at its next tick."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        """Cancel and await the background task and the load in flight, then release the
        source. Idempotent."""
        tasks: list[asyncio.Task[None] | asyncio.Task[Manifest]] = []
        task, self._task = self._task, None
        if task is not None:
            tasks.append(task)
        loading, self._loading = self._loading, None
        if loading is not None and loading.get_loop() is asyncio.get_running_loop():
            tasks.append(loading)
        for each in tasks:
            each.cancel()
        if tasks:
            # asyncio.wait neither raises the tasks' CancelledError nor swallows our own.
            await asyncio.wait(tasks)
        if task is not None and not task.cancelled() and task.exception() is not None:
            self._log.log(
                logging.ERROR, "The manifest refresh task had failed: %s", _brief(task.exception())
            )
        if self.state is not RefresherState.IDLE:
            self.state = RefresherState.STOPPED
        self._wake = None
        await self._releaser.aclose()
        await self.source.aclose()

    def _delay(self, base: float) -> float:
        return base * self.timer.uniform(1 - JITTER, 1 + JITTER)

    async def _run(self, *, retrying: bool) -> None:
        # retry_delay is the backoff while no load has succeeded and there is no interval.
        retry_delay: float | None = RETRY_FIRST if retrying and not self.interval else None
        while True:
            wake = self._wake
            assert wake is not None
            base = retry_delay if retry_delay is not None else self.interval
            assert base is not None  # without an interval the task runs only to retry
            await self.timer.wait(wake, self._delay(base))
            wake.clear()
            try:
                await self.refresh()
            except ManifestError as exc:
                if self.manifest is None:
                    message = "Manifest load failed, none loaded yet; will retry: %s"
                else:
                    message = "Manifest refresh failed, keeping the last good one: %s"
                self._log.log(logging.WARNING, message, cut(exc, MAX_ERROR))
                if retry_delay is not None:
                    retry_delay = min(retry_delay * 2, RETRY_CAP)
                continue
            except Exception as exc:
                self.last_error = ManifestError(
                    f"Manifest {self.source.location!r} refresh failed unexpectedly: "
                    f"{cut(repr(exc))}",
                    source=self.source.location,
                )
                self._log.log(
                    logging.ERROR, "Unexpected error in the manifest refresh task: %s", _brief(exc)
                )
                continue
            if not self.interval:
                return  # the first load has now succeeded, and there is no more to do
            retry_delay = None


def _brief(exc: BaseException | None) -> str:
    """An unexpected error's repr and its innermost frames, a few hundred characters in all
    (a whole traceback can quote megabytes)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:] if exc is not None else []
    where = "".join(traceback.format_list(frames))
    return f"{cut(repr(exc))}\n{cut(where, 500)}".rstrip()
