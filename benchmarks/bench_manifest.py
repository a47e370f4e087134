"""Section 4: loading a large manifest of each format from a real file and a real HTTP server.

For each format and source it measures, through the same ``CDNCore`` an app uses:

* the event loop's lag (a ticker task asks for a 1 ms sleep, over and over, and records how
  late it wakes) during the first load, and during the reload of a changed manifest (which
  also frees the old manifest and a warm cache of URLs built from it); the worst lag of a
  run, best of ``runs`` runs, after one warm-up load of a tiny manifest (a process's first
  load imports modules);
* the CPU time (``time.process_time``: every thread of the process) of a refresh that finds
  the manifest unchanged (same file identity, or an HTTP 304);
* the memory the loaded manifest keeps (``tracemalloc``), in a separate pass;
* the event loop's lag and the time while a reload refuses the same manifest spoilt at its
  very end (``BAD_VARIANTS``: a trailing comma, a value of the wrong type, a bad line), the
  case that used to send the parser back over the whole text;
* the parser alone (``_manifest._steps``, the generator both parsers have been): its CPU
  time and its longest step between two yields, in this thread's CPU time
  (``time.thread_time``), which other processes on a shared machine do not inflate as they
  do the loop's lag.

The HTTP server runs in a subprocess (``_http_server.py``) so its own work is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from _fixtures import BAD_VARIANTS, FORMATS, bad_manifest_bytes, manifest_bytes, write_atomically

from quart_cdn._config import CDNConfig
from quart_cdn._core import CDNCore
from quart_cdn._manifest import _steps
from quart_cdn.exceptions import ManifestParseError

__all__ = ["run_manifest"]

Row = tuple[str, str, float, float, str]
TICK = 0.001


class Ticker:
    """Measures how late the loop runs a task that sleeps TICK seconds at a time."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + TICK
            await asyncio.sleep(TICK)
            self.lags.append(time.perf_counter() - due)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Ticker]:
        task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.sleep(TICK * 3)  # let it settle into its rhythm
        try:
            yield self
        finally:
            await asyncio.sleep(TICK * 3)  # catch a stall right at the end
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[int]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_http_server.py")), str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _versioner(location: str) -> CDNCore:
    return CDNCore(CDNConfig(domain="cdn.example.com", manifest=True, manifest_url=location))


def _warm_cache(versioner: CDNCore, urls: int = 1000) -> None:
    for i in range(urls):
        versioner.snapshot.store(("static", f"js/f{i}.js", "https", ""), f"https://c/{i}")


async def _warm_up(location: str, path: Path, kind: str) -> None:
    """Load a tiny manifest the same way once: the first load of a process imports modules
    (anyio's backend, httpcore) and starts worker threads, which is not what is measured."""
    write_atomically(path, manifest_bytes(kind, 10))
    versioner = _versioner(location)
    await versioner.start()
    await versioner.stop()


async def _lag_and_cpu(
    location: str, path: Path, kind: str, entries: int, repeat: int, runs: int
) -> dict[str, float]:
    await _warm_up(location, path, kind)
    out: dict[str, list[float]] = {}
    for run in range(runs):
        write_atomically(path, manifest_bytes(kind, entries))
        versioner = _versioner(location)
        refresher = versioner.refresher
        assert refresher is not None
        gc.collect()
        async with Ticker().running() as ticker:
            started = time.perf_counter()
            await versioner.start()
            out.setdefault("first load, s", []).append(time.perf_counter() - started)
        out.setdefault("first load, worst lag", []).append(ticker.worst)
        try:
            assert versioner.manifest is not None and len(versioner.manifest) == entries
            _warm_cache(versioner)
            write_atomically(path, manifest_bytes(kind, entries, salt=1))
            gc.collect()
            async with Ticker().running() as ticker:
                started = time.perf_counter()
                await refresher.refresh()
                out.setdefault("reload, s", []).append(time.perf_counter() - started)
            out.setdefault("reload, worst lag", []).append(ticker.worst)
            if run < runs - 1:
                continue
            current = versioner.manifest
            cpu: list[float] = []
            async with Ticker().running() as ticker:
                for _ in range(repeat):
                    cpu_started = time.process_time()
                    assert await refresher.refresh() is current
                    cpu.append(time.process_time() - cpu_started)
                    await asyncio.sleep(TICK * 2)
            out["unchanged refresh, CPU"] = [statistics.median(cpu)]
            out["unchanged refresh, worst lag"] = [ticker.worst]
        finally:
            await versioner.stop()
    # Noise (other processes) only ever adds lag and time: each figure is its best run.
    return {name: min(values) for name, values in out.items()}


async def _refused(
    location: str, path: Path, kind: str, entries: int, runs: int
) -> dict[str, tuple[float, float]]:
    """Per variant of BAD_VARIANTS: (time, worst lag) of a reload that refuses it, best run."""
    await _warm_up(location, path, kind)
    write_atomically(path, manifest_bytes(kind, entries))
    versioner = _versioner(location)
    refresher = versioner.refresher
    assert refresher is not None
    await versioner.start()
    out: dict[str, tuple[float, float]] = {}
    try:
        for variant in BAD_VARIANTS[kind]:
            data = bad_manifest_bytes(kind, entries, variant)
            times, lags = [], []
            for _ in range(runs):
                write_atomically(path, data)
                gc.collect()
                async with Ticker().running() as ticker:
                    started = time.perf_counter()
                    try:
                        await refresher.refresh()
                    except ManifestParseError:
                        pass
                    else:
                        raise AssertionError(f"{kind} with {variant} was accepted")
                    times.append(time.perf_counter() - started)
                lags.append(ticker.worst)
            out[variant] = (min(times), min(lags))
    finally:
        await versioner.stop()
    return out


def _parser_steps(data: bytes, runs: int) -> tuple[float, float]:
    """CPU time of the parser and of its longest step, best of ``runs`` (thread time)."""
    total = longest = float("inf")
    for _ in range(runs):
        gc.collect()
        steps, worst, started = _steps(data, "bench"), 0.0, time.thread_time()
        while True:
            step = time.thread_time()
            try:
                next(steps)
            except (StopIteration, ManifestParseError):
                worst = max(worst, time.thread_time() - step)
                break
            worst = max(worst, time.thread_time() - step)
        total, longest = min(total, time.thread_time() - started), min(longest, worst)
    return total, longest


async def _memory(path: Path) -> tuple[float, float]:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        versioner = _versioner(str(path))
        await versioner.start()
        await versioner.stop()
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        assert versioner.manifest is not None
        return kept - before, peak - before
    finally:
        tracemalloc.stop()


async def run_manifest(
    root: Path, *, entries: int, repeat: int, runs: int = 3, memory: bool = True
) -> list[Row]:
    rows: list[Row] = []
    root.mkdir(parents=True, exist_ok=True)
    async with Ticker().running() as idle:
        await asyncio.sleep(0.3)
    print(
        f"\n4. a {entries:,}-entry manifest, best of {runs} runs "
        f"(idle loop's worst lag: {idle.worst * 1e3:.2f} ms)"
    )
    print(
        f"  {'format/source':<16} {'1st load':>9} {'lag':>8} {'reload':>9} {'lag':>8} "
        f"{'304 CPU':>9} {'lag':>8} {'size':>8}"
    )
    with http_server(root) as port:
        for kind in FORMATS:
            path = root / f"big-{kind}.txt"
            data = manifest_bytes(kind, entries)
            write_atomically(path, data)
            for where, location in (
                ("file", str(path)),
                ("http", f"http://127.0.0.1:{port}/{path.name}"),
            ):
                r = await _lag_and_cpu(location, path, kind, entries, repeat, runs)
                print(
                    f"  {kind + ', ' + where:<16} {r['first load, s'] * 1e3:>6.0f} ms "
                    f"{r['first load, worst lag'] * 1e3:>5.1f} ms {r['reload, s'] * 1e3:>6.0f} ms "
                    f"{r['reload, worst lag'] * 1e3:>5.1f} ms "
                    f"{r['unchanged refresh, CPU'] * 1e3:>6.3f} ms "
                    f"{r['unchanged refresh, worst lag'] * 1e3:>5.1f} ms {len(data) / 1e6:>5.1f} MB"
                )
                lag = max(r["first load, worst lag"], r["reload, worst lag"])
                rows.append(
                    ("4", f"{kind} from {where}: worst loop lag (ms)", lag, lag * 1e3, "≤ 5 ms")
                )
                cpu = r["unchanged refresh, CPU"]
                rows.append(
                    (
                        "4",
                        f"{kind} from {where}: unchanged refresh CPU (ms)",
                        cpu,
                        cpu * 1e3,
                        "< 1 ms",
                    )
                )
            refused = await _refused(str(path), path, kind, entries, runs)
            for variant, (seconds, lag) in refused.items():
                print(
                    f"  {kind + ', file':<16} {variant}: refused in {seconds * 1e3:.0f} ms, "
                    f"worst lag {lag * 1e3:.1f} ms"
                )
                rows.append(
                    ("4", f"{kind} with {variant}: worst loop lag (ms)", lag, lag * 1e3, "≤ 5 ms")
                )
            write_atomically(path, data)
            variants = [("", data)] + [
                (f" with {variant}", bad_manifest_bytes(kind, entries, variant))
                for variant in BAD_VARIANTS[kind]
            ]
            for label, body in variants:
                cpu, step = _parser_steps(body, runs)
                print(
                    f"  {kind + ', parser':<16} {label.strip() or 'as is'}: {cpu * 1e3:.0f} ms "
                    f"CPU, longest step {step * 1e3:.2f} ms CPU"
                )
                rows.append(
                    (
                        "4",
                        f"{kind}{label}: longest parser step, CPU (ms)",
                        step,
                        step * 1e3,
                        "≤ 5 ms",
                    )
                )
            if memory:
                kept, peak = await _memory(path)
                kept_mib, peak_mib = kept / 2**20, peak / 2**20
                print(
                    f"  {kind + ', memory':<16} kept {kept_mib:.1f} MiB, "
                    f"peak while loading {peak_mib:.1f} MiB"
                )
                rows.append(
                    ("4", f"{kind}: manifest in memory (MiB)", kept, kept / 2**20, "< 40 MB")
                )
    return rows
