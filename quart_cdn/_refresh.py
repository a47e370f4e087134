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
from typing import Final

import anyio

from ._manifest import Manifest
from ._sources import ManifestSource
from .exceptions import ManifestError

__all__ = ["ManifestRefresher", "RefresherState"]

logger = logging.getLogger("quart_cdn")

#: Jitter applied to every wait: ``interval * (1 ± JITTER)``, so that several workers
#: started together drift apart instead of hitting the manifest server in the same second.
JITTER: Final = 0.1
RETRY_FIRST: Final = 1.0
RETRY_CAP: Final = 60.0


class RefresherState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"


class ManifestRefresher:
    """Loads a manifest from ``source`` and keeps it current.

    Args:
        source: where the manifest comes from.
        interval: seconds between background reloads; ``None`` or ``0``: load once.
        strict: a failed first load makes :meth:`start` raise; otherwise it is logged and
            retried in the background (every ``interval`` seconds, or with a backoff from
            about 1 s to about a minute) until a load succeeds.
        on_swap: called with each new manifest, right after it is swapped in.

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
    ) -> None:
        self.source = source
        self.interval = interval or None
        self.strict = strict
        self.on_swap = on_swap
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
            RuntimeError: already started.
        """
        if self.state is RefresherState.RUNNING:
            raise RuntimeError("ManifestRefresher.start() called twice without stop()")
        await self.source.open()
        try:
            await self.refresh()
        except ManifestError as exc:
            if self.strict:
                await self.source.aclose()
                raise
            logger.warning("%s; URLs fall back until a load succeeds", exc)
            failed = True
        except BaseException:
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
        self.state = RefresherState.IDLE
        self._wake = None
        await self.source.aclose()

    def _delay(self, retry_delay: float | None) -> float:
        base = retry_delay if retry_delay is not None else (self.interval or RETRY_CAP)
        return base * random.uniform(1 - JITTER, 1 + JITTER)

    async def _run(self, *, retrying: bool) -> None:
        # retry_delay is the backoff while no load has succeeded and there is no interval.
        retry_delay: float | None = RETRY_FIRST if retrying and not self.interval else None
        while True:
            wake = self._wake
            assert wake is not None
            with anyio.move_on_after(self._delay(retry_delay)):
                await wake.wait()
            wake.clear()
            try:
                await self.refresh()
            except ManifestError as exc:
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
            if retry_delay is not None or not self.interval:
                # The first load has now succeeded; without an interval there is no more to do.
                if not self.interval:
                    return
                retry_delay = None
