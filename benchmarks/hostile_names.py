"""Memory and log volume after a flood of hostile file names through ``url_for``.

Not run in CI. Each case runs in a fresh interpreter (a child process of this script): a
Quart app with ``CDN_MANIFEST_STRICT = False`` and a loaded manifest, then ``--names``
distinct names of ``--length`` characters, none in the manifest nor on disk, each asked
for once through ``url_for`` inside a request. Every name goes through every cache that
names can grow: the URL cache (the request's view of the snapshot), the mtime cache, and
the set of warned names (two warnings per name: not in the manifest, not on disk).

It prints the growth of resident memory (``VmRSS`` after ``gc.collect()``, minus the
figure after one warm-up name), the records and bytes quart-cdn logged, and the bound:
three caches of ``MAX_CACHE_BYTES`` (16 MiB) of estimated bytes each.

    .venv/bin/python benchmarks/hostile_names.py                   # 50,000 x 4,000 chars
    .venv/bin/python benchmarks/hostile_names.py --length 100
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def child(names: int, length: int) -> dict[str, Any]:
    from quart import Quart

    from quart_cdn import CDN, url_for
    from quart_cdn._cache import MAX_CACHE_BYTES

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("quart_cdn")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    records = 0

    def count(record: logging.LogRecord) -> bool:
        nonlocal records
        records += 1
        return True

    handler.addFilter(count)
    with tempfile.TemporaryDirectory(prefix="quart-cdn-hostile-") as scratch:
        root = Path(scratch)
        (root / "static").mkdir()
        (root / "static" / "app.js").write_text("x")
        (root / "manifest.json").write_text('{"app.js": "app.1.js"}')
        app = Quart(__name__, static_folder=str(root / "static"))
        app.config.update(
            CDN_DOMAIN="cdn.example.com",
            CDN_MANIFEST=True,
            CDN_MANIFEST_URL=str(root / "manifest.json"),
            CDN_MANIFEST_STRICT=False,
        )
        cdn = CDN(app)
        await cdn.refresh()
        async with app.test_request_context("/"):
            url_for("static", filename="app.js")
            url_for("static", filename="warm-" + "w" * (length - 5))
            gc.collect()
            before = rss_kib()
            for n in range(names):
                name = f"{n:08d}" + "x" * (length - 8)  # made one at a time, never kept
                url_for("static", filename=name)
            gc.collect()
            after = rss_kib()
    logger.removeHandler(handler)
    return {
        "names": names,
        "length": length,
        "rss_growth_mib": (after - before) / 1024,
        "log_records": records,
        "log_bytes": len(stream.getvalue()),
        "bound_mib": 3 * MAX_CACHE_BYTES / MIB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=50_000, help="distinct names (50,000)")
    parser.add_argument("--length", type=int, default=4_000, help="characters a name (4,000)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.names, args.length))))
        return 0
    command = [sys.executable, __file__, "--child", "--names", str(args.names)]
    out = subprocess.run(
        [*command, "--length", str(args.length)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    print(f"names               {result['names']:,} of {result['length']:,} characters")
    print(f"RSS growth          {result['rss_growth_mib']:.1f} MiB")
    print(f"bound               {result['bound_mib']:.0f} MiB of estimated bytes (3 caches)")
    print(f"log records         {result['log_records']:,} ({result['log_bytes']:,} bytes)")
    return 0 if result["rss_growth_mib"] <= result["bound_mib"] * 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
