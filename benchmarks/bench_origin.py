"""The origin rules' cost: requests per second for one static file behind uvicorn (one
worker), served with the origin rules on vs by the framework alone, for Quart and Starlette.

    python benchmarks/bench_origin.py                  # 3 rounds of 5 s per configuration
    python benchmarks/bench_origin.py --repeat 5 --duration 10

The request is what a CDN sends on a miss: ``GET /static/css/app.css?c=<checksum>``, no
``Accept-Encoding`` (the file has ``.br``/``.gz`` siblings, so the sibling lookup runs but
the plain file is sent, the same bytes as the framework's). Server and load generator
(``wrk``, else ``_load.py``) are separate processes. The four servers stay up; each round
loads a framework's two servers back to back, and the figure is the median over rounds of
the ratio within a round, which a shared machine's drift moves least. Target: ≥ 0.95.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _fixtures import free_port, stop_process
from bench_server import _load

__all__ = ["run_origin"]

HERE = Path(__file__).parent
FRAMEWORKS = ("quart", "starlette")
MODES = ("plain", "origin")
Row = tuple[str, str, float, float, str]


def make_site(root: Path) -> str:
    """A static file with compressed siblings and a checksum manifest; returns its URL path."""
    root.mkdir(parents=True, exist_ok=True)
    css = root / "static" / "css" / "app.css"
    css.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f".rule-{n} {{ margin: {n}px; color: #{n:06x}; }}\n" for n in range(200))
    css.write_text(body)
    Path(f"{css}.gz").write_bytes(gzip.compress(body.encode(), mtime=0))
    Path(f"{css}.br").write_bytes(b"never sent: the requests accept no encoding")
    checksum = hashlib.md5(body.encode()).hexdigest()
    (root / "manifest.md5").write_text(f"{checksum}  static/css/app.css\n")
    return f"/static/css/app.css?c={checksum}"


@contextlib.contextmanager
def _uvicorn(site: Path, framework: str, mode: str, path: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "BENCH_SITE": str(site), "BENCH_FRAMEWORK": framework, "BENCH_MODE": mode}
    log = open(site / f"uvicorn-{framework}-{mode}.log", "w+")  # noqa: SIM115
    args = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "_origin_app:app"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    args += ["--log-level", "warning", "--loop", "asyncio", "--http", "h11"]
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=site)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    cache_control = answer.headers.get("Cache-Control")
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"uvicorn did not start:\n{log.read()}") from None
                time.sleep(0.1)
        # Make sure each configuration is the one meant.
        immutable = cache_control is not None and "immutable" in cache_control
        assert immutable == (mode == "origin"), (framework, mode, cache_control)
        yield url, proc.pid
    finally:
        stop_process(proc)
        log.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads (Linux), else 0."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_origin(root: Path, *, repeat: int, duration: float, connections: int) -> list[Row]:
    path = make_site(root)
    tool = "wrk" if shutil.which("wrk") else "_load.py"
    print(
        f"\n7. origin rules: uvicorn (1 worker) + {tool}, {connections} connections, "
        f"{duration:g} s x {repeat} rounds, GET {path}"
    )
    ratios: dict[str, list[float]] = {framework: [] for framework in FRAMEWORKS}
    cpu_ratios: dict[str, list[float]] = {framework: [] for framework in FRAMEWORKS}
    best: dict[tuple[str, str], float] = {}
    with contextlib.ExitStack() as stack:
        # All four servers stay up; each round loads the two of a framework back to back
        # (in alternating order), so that both see the same moment of a shared machine.
        servers = {
            (framework, mode): stack.enter_context(_uvicorn(root, framework, mode, path))
            for framework in FRAMEWORKS
            for mode in MODES
        }
        for url, _pid in servers.values():
            _load(url, min(1.0, duration), connections)  # warm-up
        for turn in range(repeat):
            for framework in FRAMEWORKS:
                figures: dict[str, tuple[float, float]] = {}
                for mode in MODES if turn % 2 == 0 else MODES[::-1]:
                    url, pid = servers[framework, mode]
                    before = _cpu_seconds(pid)
                    rps, _p99 = _load(url, duration, connections)
                    cpu = (_cpu_seconds(pid) - before) / (rps * duration)
                    figures[mode] = rps, cpu
                    best[framework, mode] = max(best.get((framework, mode), 0.0), rps)
                ratios[framework].append(figures["origin"][0] / figures["plain"][0])
                if figures["origin"][1] > 0:
                    cpu_ratios[framework].append(figures["plain"][1] / figures["origin"][1])
    rows: list[Row] = []
    for framework in FRAMEWORKS:
        ratio = statistics.median(ratios[framework])
        # The server's CPU time per request (all its threads), as a second opinion.
        cpu_ratio = statistics.median(cpu_ratios[framework]) if cpu_ratios[framework] else 0.0
        plain, origin = best[framework, "plain"], best[framework, "origin"]
        print(
            f"  {framework:<10} best {plain:>6.0f} req/s alone, {origin:>6.0f} with the rules; "
            f"median of paired rounds {ratio:.3f}× (rounds: "
            f"{', '.join(f'{r:.2f}' for r in ratios[framework])}); requests per CPU "
            f"second {cpu_ratio:.3f}×"
        )
        rows.append(("7", f"rps, {framework} origin rules / alone", origin, ratio, "≥ 0.95"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="whole seconds (wrk)")
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quart-cdn-origin-") as tmp:
        rows = run_origin(
            Path(tmp), repeat=args.repeat, duration=args.duration, connections=args.connections
        )
    failed = [row for row in rows if row[3] < 0.95]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
