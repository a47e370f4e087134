"""How much quart-cdn logs: quoted values cut short, repeats and floods rate-limited.

Every record quart-cdn emits about a manifest or a file name goes through a
:class:`LogLimiter`, the one home of these rules:

- a record's message is cut to :data:`MAX_MESSAGE` characters, each value quoted in it (a
  file name, cut before ``%r`` quotes it) to :data:`MAX_QUOTE` and an error's message to
  :data:`MAX_ERROR` by :func:`cut`, so that no record is much over 1 KB whatever a manifest
  or a request holds;
- an identical message is logged at most once per window (a minute): the first one at once,
  the repeats counted, and the next one logged says how many there were
  (``... (57 more in the last minute)``);
- past :data:`BURST` records in one window, the rest are counted, not logged: one line says
  so when it starts, and the first record of the next window carries the count.

So a failing origin polled every second logs about one line a minute, and 50,000 hostile
file names log at most :data:`BURST` warnings and two summary lines a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = [
    "BURST",
    "MAX_ERROR",
    "MAX_MESSAGE",
    "MAX_QUOTE",
    "WINDOW",
    "LogLimiter",
    "cut",
]

#: The most characters of one quoted value (a file name, a setting's value) in a record.
MAX_QUOTE: Final = 200
#: The most characters of an error's message in a record: a sentence that quotes values of
#: its own (the manifest's URL, the cause), which its source should have cut already.
MAX_ERROR: Final = 400
#: The most characters of one record's message.
MAX_MESSAGE: Final = 900
#: Seconds in which an identical message is logged once, and BURST records at most.
WINDOW: Final = 60.0
#: Records logged per window by one limiter; the rest are counted.
BURST: Final = 100
#: Distinct messages whose repeats are tracked at once (each at most MAX_MESSAGE long).
MAX_KEYS: Final = 1_000


def cut(text: object, limit: int = MAX_QUOTE) -> str:
    """``str(text)`` cut to ``limit`` characters, saying how many were left out."""
    value = text if isinstance(text, str) else str(text)
    if len(value) <= limit:
        return value
    return f"{value[:limit]}... ({len(value) - limit:,} more characters)"


def _window_text(window: float) -> str:
    return "the last minute" if window == 60 else f"the last {window:g} s"


class LogLimiter:
    """Logs through ``logger`` under the rules of this module.

    Args:
        logger: where records go.
        window: seconds in which an identical message is logged once, and ``burst``
            records at most.
        burst: records logged per window; the rest are counted and summed up.
        clock: the monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        window: float = WINDOW,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.window = window
        self.burst = burst
        self.clock = clock
        # message key -> [when it was last logged, repeats not logged since]
        self._last: dict[str, list[float]] = {}
        self._window_start = -float("inf")
        self._logged = 0  # records logged in the current window
        self._dropped = 0  # records counted, not logged, in the current window
        # url_for runs in worker threads too (Quart's run_sync, Starlette's sync endpoints).
        self._lock = threading.Lock()

    def log(self, level: int, message: str, *args: object) -> bool:
        """Log ``message % args`` (cut to :data:`MAX_MESSAGE`) unless a rule holds it back;
        return whether it was logged.

        "The same message" is the same text once cut: the memory of past messages holds
        at most :data:`MAX_KEYS` texts of at most :data:`MAX_MESSAGE` characters, never a
        caller's (possibly huge) values.
        """
        key = text = cut(message % args if args else message, MAX_MESSAGE)
        with self._lock:
            now = self.clock()
            last = self._last.get(key)
            if last is not None and now - last[0] < self.window:
                last[1] += 1
                return False
            if now - self._window_start >= self.window:
                if self._dropped:
                    self.logger.warning(
                        "... %s more quart-cdn log records were left out in %s",
                        f"{self._dropped:,}",
                        _window_text(self.window),
                    )
                self._window_start, self._logged, self._dropped = now, 0, 0
            if self._logged >= self.burst:
                self._dropped += 1
                if self._dropped == 1:
                    self.logger.warning(
                        "quart-cdn logged %d records in %s; the next ones are counted, not "
                        "logged, until it has passed",
                        self.burst,
                        _window_text(self.window),
                    )
                return False
            self._logged += 1
            repeats = int(last[1]) if last is not None else 0
            self._remember(key, now)
        if repeats:
            text += f" ({repeats:,} more in {_window_text(self.window)})"
        self.logger.log(level, text)
        return True

    def _remember(self, key: str, now: float) -> None:
        if len(self._last) >= MAX_KEYS:
            # Forget the messages whose window is over (their repeats are lost), or all.
            live = {k: v for k, v in self._last.items() if now - v[0] < self.window}
            self._last = live if len(live) < MAX_KEYS else {}
        self._last[key] = [now, 0]
