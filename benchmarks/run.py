"""Run the quart-cdn benchmarks and print every figure with its ratio and target.

    python benchmarks/run.py                     # sections 1-4, about two minutes
    python benchmarks/run.py --server            # and section 5 (uvicorn + wrk), two more
    python benchmarks/run.py --only url,server   # url (1-3), manifest (4), server (5),
                                                 # entries (6)

Sections: 1. ``url_for`` and the template global vs ``quart.url_for``; 2. a non-CDN endpoint;
3. a 50-URL page render vs plain Quart; 4. loading a 100,000-entry manifest (loop lag, CPU
of an unchanged refresh, memory); 5. requests per second and p99 latency behind uvicorn;
6. a warm ``entry_tags`` call (5 CSS files, 5 preloads) vs ``quart.url_for``.
Timings are interleaved best-of-N loops in one process; see ``_timing.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_entries import run_entries
from bench_manifest import run_manifest
from bench_server import run_server
from bench_urls import run_urls

SECTIONS = ("url", "manifest", "server", "entries")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _met(value: float, target: str) -> bool:
    bound = float(target.split()[1])
    return (
        value <= bound
        if target.startswith("≤")
        else value < bound
        if target.startswith("<")
        else value >= bound
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--server", action="store_true", help="also run section 5")
    parser.add_argument("--repeat", type=int, default=15, help="rounds of timed loops (1-3)")
    parser.add_argument("--entries", type=int, default=100_000, help="manifest size (4)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass (4)")
    parser.add_argument("--server-rounds", type=int, default=3)
    parser.add_argument("--server-duration", type=float, default=5.0, help="seconds per run (5)")
    parser.add_argument("--server-entries", type=int, default=5_000, help="manifest size (5)")
    parser.add_argument("--connections", type=int, default=10, help="concurrent connections (5)")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(","))) or {"url", "manifest", "entries"} | (
        {"server"} if args.server else set()
    )
    if unknown := only - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    print(
        f"machine: {os.cpu_count()} CPUs ({_cpu_model()}), Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="quart-cdn-bench-") as tmp:
        root = Path(tmp)
        if "url" in only:
            rows += asyncio.run(run_urls(root / "urls", repeat=args.repeat))
        if "manifest" in only:
            rows += asyncio.run(
                run_manifest(
                    root / "manifest",
                    entries=args.entries,
                    repeat=args.repeat,
                    memory=not args.no_memory,
                )
            )
        if "entries" in only:
            rows += asyncio.run(run_entries(root / "entries", repeat=args.repeat))
        if "server" in only:
            rows += run_server(
                root / "server",
                repeat=args.server_rounds,
                duration=args.server_duration,
                entries=args.server_entries,
                connections=args.connections,
            )
    print("\nSummary (ratio, or the figure itself for section 4)")
    for section, what, _, value, target in rows:
        verdict = "met" if _met(value, target) else "NOT MET"
        print(f"  {section}  {what:<56} {value:>8.3f}  target {target:<8} {verdict}")


if __name__ == "__main__":
    main()
