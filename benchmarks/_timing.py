"""Timing helpers: interleaved best-of-N / median loops that resist a noisy, shared machine.

Every case is timed in the same round, one after the other, and the rounds repeat; a burst
of noise then hits all the cases of a round alike instead of one case's whole run. A case's
figure is its best loop (the least disturbed run) and, for a second opinion, its median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

__all__ = ["AsyncCase", "Case", "Stats", "fmt_time", "interleaved", "interleaved_async"]


@dataclass(frozen=True)
class Stats:
    """Seconds per call: the best loop and the median loop."""

    best: float
    median: float

    def ratio(self, reference: Stats) -> float:
        return self.best / reference.best

    def median_ratio(self, reference: Stats) -> float:
        return self.median / reference.median


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


@dataclass(frozen=True)
class Case:
    """A sync callable to time, run while ``enter()`` (a request context) is entered."""

    fn: Callable[[], object]
    enter: Callable[[], AbstractAsyncContextManager[object]]


def _loop(fn: Callable[[], object], number: int) -> float:
    started = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - started


async def interleaved(
    cases: Mapping[str, Case], *, repeat: int, target_loop: float = 0.02
) -> dict[str, Stats]:
    """Time each case ``repeat`` times, round-robin; each loop runs about ``target_loop`` s."""
    numbers: dict[str, int] = {}
    for name, case in cases.items():  # calibrate (and warm every cache)
        async with case.enter():
            number = 10
            while (spent := _loop(case.fn, number)) < target_loop / 4:
                number *= 4
            numbers[name] = max(10, int(number * target_loop / max(spent, 1e-9)))
    loops: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            async with case.enter():
                loops[name].append(_loop(case.fn, numbers[name]) / numbers[name])
    return {n: Stats(min(v), statistics.median(v)) for n, v in loops.items()}


@dataclass(frozen=True)
class AsyncCase:
    fn: Callable[[], Awaitable[object]]
    enter: Callable[[], AbstractAsyncContextManager[object]]


async def _aloop(fn: Callable[[], Awaitable[object]], number: int) -> float:
    started = time.perf_counter()
    for _ in range(number):
        await fn()
    return time.perf_counter() - started


async def interleaved_async(
    cases: Mapping[str, AsyncCase], *, repeat: int, target_loop: float = 0.05
) -> dict[str, Stats]:
    """:func:`interleaved` for coroutine functions (a template render)."""
    numbers: dict[str, int] = {}
    for name, case in cases.items():
        async with case.enter():
            number = 2
            while (spent := await _aloop(case.fn, number)) < target_loop / 4:
                number *= 4
            numbers[name] = max(2, int(number * target_loop / max(spent, 1e-9)))
    loops: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            async with case.enter():
                loops[name].append(await _aloop(case.fn, numbers[name]) / numbers[name])
    return {n: Stats(min(v), statistics.median(v)) for n, v in loops.items()}
