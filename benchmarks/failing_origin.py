"""Log lines from a manifest origin that keeps failing, polled at the refresh floor.

Not run in CI. A manifest server on 127.0.0.1 answers the first request with a manifest
and every later one with ``503``; the framework-free core (``CDNCore``, settings read as
the adapters read them) reloads it every ``--refresh`` seconds (1, the floor, by default)
for ``--seconds`` of real time. It prints the requests the origin received, the records
quart-cdn logged, and the records per minute.

    .venv/bin/python benchmarks/failing_origin.py                 # 125 s at 1 s
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import logging
import sys
import threading
import time
from typing import Any

from quart_cdn._config import CDNConfig
from quart_cdn._core import CDNCore


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.requests += 1
        first = self.server.requests == 1
        body = b'{"app.js": "app.1.js"}' if first else b"down for maintenance\n"
        self.send_response(200 if first else 503)
        self.send_header("Content-Type", "application/json" if first else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: the client closing a kept-alive connection is routine here."""


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def run(seconds: float, refresh: float) -> int:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler = _Count()
    logger = logging.getLogger("quart_cdn")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    config = CDNConfig.from_settings(
        {
            "domain": "cdn.example.com",
            "manifest": True,
            "manifest_url": f"http://127.0.0.1:{server.server_address[1]}/manifest.json",
            "manifest_refresh": refresh,
        }
    )
    core = CDNCore(config)
    started = time.monotonic()
    try:
        await core.start()
        await asyncio.sleep(seconds)
    finally:
        await core.stop()
        server.shutdown()
        server.server_close()
        logger.removeHandler(handler)
    elapsed = time.monotonic() - started
    print(f"duration            {elapsed:.0f} s, refresh every {refresh:g} s")
    print(f"origin requests     {server.requests} (all but the first answered 503)")
    print(f"log records         {len(handler.messages)}")
    print(f"records per minute  {len(handler.messages) / (elapsed / 60):.1f}")
    print(f"largest record      {max(map(len, handler.messages), default=0)} characters")
    for message in handler.messages:
        print(f"  {message}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=125.0, help="how long (125)")
    parser.add_argument("--refresh", type=float, default=1.0, help="CDN_MANIFEST_REFRESH (1)")
    args = parser.parse_args()
    return asyncio.run(run(args.seconds, args.refresh))


if __name__ == "__main__":
    sys.exit(main())
