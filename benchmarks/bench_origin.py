"""The origin rules' cost: requests per second for one static file behind uvicorn (one
worker), served with the origin rules on vs by the framework alone, for Quart and Starlette.

    python benchmarks/bench_origin.py                  # 3 rounds of 5 s per configuration
    python benchmarks/bench_origin.py --repeat 5 --duration 10

The request is what a CDN sends on a miss: ``GET /static/css/app.css?c=<checksum>``, no
``Accept-Encoding`` (the file has ``.br``/``.gz`` siblings, so the sibling lookup runs but
the plain file is sent, the same bytes as the framework's). Server and load generator
(``wrk``, else ``_load.py``) are separate processes; configurations run round-robin and each
figure is its best round (noise only lowers rps). Target: origin / framework ≥ 0.95.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import os
import shutil
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
    results: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeat):
        for framework in FRAMEWORKS:
            for mode in MODES:
                with _uvicorn(root, framework, mode, path) as (url, pid):
                    _load(url, min(1.0, duration), connections)  # warm-up
                    before = _cpu_seconds(pid)
                    rps, _p99 = _load(url, duration, connections)
                    used = _cpu_seconds(pid) - before
                    results.setdefault((framework, mode), []).append(rps)
                    cpu.setdefault((framework, mode), []).append(used / (rps * duration))
    rows: list[Row] = []
    for framework in FRAMEWORKS:
        plain = max(results[framework, "plain"])
        origin = max(results[framework, "origin"])
        # The server's CPU time per request (all its threads): noise from other processes
        # on the machine moves it much less than the request rate.
        plain_cpu = min(cpu[framework, "plain"])
        origin_cpu = min(cpu[framework, "origin"])
        print(
            f"  {framework:<10} framework alone {plain:>7.0f} req/s, origin rules "
            f"{origin:>7.0f} req/s: {origin / plain:.3f}×   CPU per request "
            f"{plain_cpu * 1e6:.0f} µs vs {origin_cpu * 1e6:.0f} µs: "
            f"{plain_cpu / origin_cpu:.3f}× the requests per CPU second"
        )
        rows.append(
            ("7", f"rps, {framework} origin rules / alone", origin, origin / plain, "≥ 0.95")
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
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
