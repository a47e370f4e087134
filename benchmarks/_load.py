"""A small HTTP/1.1 load generator, used by section 5 when ``wrk`` is not installed.

``python _load.py URL --connections 10 --duration 5`` keeps each connection busy with
keep-alive GETs and prints one JSON line: ``{"rps": ..., "p50": ..., "p99": ...}`` (seconds).
It is slower than wrk, so give the server a core of its own either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


async def _worker(host: str, port: int, path: str, until: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    try:
        while (started := time.perf_counter()) < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    url = urlsplit(args.url)
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + args.duration
    await asyncio.gather(
        *(
            _worker(url.hostname or "127.0.0.1", url.port or 80, url.path or "/", until, latencies)
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    print(json.dumps({"rps": len(latencies) / elapsed, "p50": cuts[49], "p99": cuts[98]}))


if __name__ == "__main__":
    asyncio.run(main())
