"""Freeing a replaced manifest a slice at a time, off the event loop's critical path.

Dropping the last reference to a 100,000-entry manifest frees its dict, its set of listed
files and their strings in one C call, which holds the event loop for 5 to 15 ms. The
refresher hands each replaced manifest to a :class:`Releaser` instead: once nothing else
holds it (no request still rendering with it, no cache remembering it, no caller keeping
``cdn.manifest``), it empties the manifest's containers a slice at a time and gives the loop
back in between. If something keeps holding it for ``patience`` seconds, the releaser lets go
and the manifest is freed the ordinary way, by whoever drops it last.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Final

from ._manifest import Manifest

__all__ = ["Releaser"]

#: Seconds between two looks at whether the manifest is held elsewhere, and how long to look.
POLL: Final = 0.5
PATIENCE: Final = 300.0


def _count(obj: object) -> int:
    return sys.getrefcount(obj)


def _calibrate() -> int:
    probe = object()
    return _count(probe)


#: What :func:`_count` gives for an object held by one name of the calling frame alone (the
#: exact figure differs between Python versions, so it is measured, not assumed).
_ALONE: Final = _calibrate()


class Releaser:
    """Frees replaced manifests a slice at a time; owns its tasks (:meth:`aclose`).

    Args:
        poll: seconds between two looks at whether a manifest is held elsewhere.
        patience: how long to look before letting the manifest go the ordinary way.
    """

    def __init__(self, *, poll: float = POLL, patience: float = PATIENCE) -> None:
        self.poll = poll
        self.patience = patience
        self._tasks: set[asyncio.Task[None]] = set()

    def retire(self, manifest: Manifest) -> None:
        """Free ``manifest`` once nothing else holds it (call it right after the swap)."""
        task = asyncio.get_running_loop().create_task(
            self._release(manifest), name="quart-cdn release of a replaced manifest"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, manifest: Manifest) -> None:
        manifest._drop_graph()  # the entry graph refers back to the manifest
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience
        # Wait once first: the reload that retired it is still finishing its own steps, and
        # the two in one turn of the loop would add up.
        await asyncio.sleep(self.poll)
        while _count(manifest) > _ALONE:
            if loop.time() >= deadline:
                return
            await asyncio.sleep(self.poll)
        for _ in manifest._release_steps():
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        """Cancel and await the releases under way (their manifests are freed as usual)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
