"""Keeping the manifest current: the first load, a timed background reload, and shutdown.

:class:`ManifestRefresher` owns one source, the manifest in force and at most one
``asyncio.Task``. The task is created at :meth:`~ManifestRefresher.start` and cancelled and
awaited at :meth:`~ManifestRefresher.stop`; it never ends on a failed load. Deadlines use
anyio cancel scopes rather than ``asyncio.wait_for``, which before Python 3.12 can swallow
the cancellation that shutdown sends.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable
from typing import Final, Protocol

import anyio

from ._manifest import Manifest
from ._sources import ManifestSource
from .exceptions import ManifestError, UsageError

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
    """What the background task waits with; tests inject one that needs no real time."""

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


class ManifestRefresher:
    """Loads a manifest from ``source`` and keeps it current.

    Args:
        source: where the manifest comes from.
        interval: seconds between background reloads; ``None`` or ``0``: load once.
        strict: a failed first load makes :meth:`start` raise; otherwise it is logged and
            retried in the background (every ``interval`` seconds, or with a backoff from
            about 1 s to about a minute) until a load succeeds.
        on_swap: called with each new manifest, right after it is swapped in.
        timer: how the background task waits and draws its jitter (a :class:`Timer`);
            the real clock by default.

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
        self._lock: asyncio.Lock | None = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The background task while one runs."""
        return self._task

    async def refresh(self) -> Manifest:
        """Load the manifest now and swap it in; on failure keep the old one and raise."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                manifest = await self.source.load()
            except ManifestError as exc:
                self.last_error = exc
                raise
            self.last_error = None
            if manifest is not self.manifest:
                self.manifest = manifest
                if self.on_swap is not None:
                    self.on_swap(manifest)
            return manifest

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
                self.state = RefresherState.STOPPED
                await self.source.aclose()
                raise
            logger.warning("%s; URLs fall back until a load succeeds", exc)
            failed = True
        except BaseException:
            self.state = RefresherState.STOPPED
            await self.source.aclose()
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
        """Cancel and await the background task, then release the source. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # asyncio.wait neither raises the task's CancelledError nor swallows our own.
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                logger.error("The manifest refresh task had failed", exc_info=task.exception())
        if self.state is not RefresherState.IDLE:
            self.state = RefresherState.STOPPED
        self._wake = None
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
                    logger.warning("Manifest load failed, none loaded yet; will retry: %s", exc)
                else:
                    logger.warning("Manifest refresh failed, keeping the last good one: %s", exc)
                if retry_delay is not None:
                    retry_delay = min(retry_delay * 2, RETRY_CAP)
                continue
            except Exception as exc:
                self.last_error = ManifestError(
                    f"Manifest {self.source.location!r} refresh failed unexpectedly: {exc!r}",
                    source=self.source.location,
                )
                logger.exception("Unexpected error in the manifest refresh task")
                continue
            if not self.interval:
                return  # the first load has now succeeded, and there is no more to do
            retry_delay = None
