"""Soak test: the example app under load while its manifest churns and its server fails.

Not run in CI. It starts, all on 127.0.0.1:

* a manifest server (in this process) whose checksum manifest changes every 100 ms and that
  fails half of the requests (500, 503 with Retry-After, 404, a body that is not a manifest,
  a body shorter than its Content-Length, a reset connection, a slow answer);
* the example app (``examples/quart_app/app.py``) behind uvicorn, reloading that manifest
  every second (``CDN_MANIFEST_REFRESH=1``, the shortest interval the settings accept);
* a load generator (httpx, ``--concurrency`` connections) that fetches ``/`` and ``/about``
  until ``--seconds`` have passed, and checks every page: both CDN URLs on it carry the same
  manifest generation, one the manifest server has served.

It then prints requests served, errors (must be 0), the server's resident memory and open
file descriptors at the start (after a warm-up) and at the end, and exits 1 if there was an
error. Everything is bounded: the load stops at the deadline and uvicorn is stopped (SIGINT,
then SIGKILL after 10 s) whatever happens.

    .venv/bin/python benchmarks/soak.py --seconds 180
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _fixtures import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "examples" / "quart_app"
FILES = ("static/css/app.css", "static/js/app.js")
_URL = re.compile(r'(?:href|src)="(http://[^"]+/static/[^"]+)"')
_VERSION = re.compile(r"\?c=([0-9a-f]{32})$")


# -- The manifest server -----------------------------------------------------------------------


class ManifestState:
    """The current manifest generation (bumped every ``change_every`` s) and what was served."""

    def __init__(self, change_every: float, fail_rate: float, seed: int) -> None:
        self.change_every = change_every
        self.fail_rate = fail_rate
        self.random = random.Random(seed)
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.requests = 0
        self.failures: dict[str, int] = {}
        self.served: set[int] = set()

    def generation(self) -> int:
        return int((time.monotonic() - self.started) / self.change_every)

    def body(self, generation: int) -> bytes:
        return "".join(f"{generation:032x}  {name}\n" for name in FILES).encode()

    def decide(self) -> str | None:
        """``None`` (answer well) or the failure to give; the first answers are always good,
        so that the app (strict by default) can start."""
        with self.lock:
            self.requests += 1
            if self.requests <= 3 or self.random.random() >= self.fail_rate:
                return None
            mode = self.random.choice(FAILURES)
            self.failures[mode] = self.failures.get(mode, 0) + 1
            return mode


FAILURES = ("500", "503", "404", "garbage", "short", "reset", "slow")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        mode = state.decide()
        if mode == "reset":
            # Headers and half a body, then an RST (SO_LINGER 0) instead of the rest.
            self._head(200, 1000)
            self.wfile.write(b"0" * 100)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if mode in ("500", "503", "404"):
            body = b"failure\n"
            extra = {"Retry-After": "1"} if mode == "503" else {}
            self._head(int(mode), len(body), extra)
            self.wfile.write(body)
            return
        if mode == "garbage":
            body = b"<html>this is not a manifest</html>\n"
            self._head(200, len(body))
            self.wfile.write(body)
            return
        generation = state.generation()
        body = state.body(generation)
        if mode == "short":
            self._head(200, len(body) + 50, {"Connection": "close"})
            self.wfile.write(body[:20])
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(0.3)
        etag = f'"{generation}"'
        if self.headers.get("If-None-Match") == etag:
            self._head(304, None, {"ETag": etag})
        else:
            self._head(200, len(body), {"ETag": etag})
            self.wfile.write(body)
        with state.lock:
            state.served.add(generation)

    def _head(self, status: int, length: int | None, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ManifestState) -> None:
        self.state = state
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out or went away is routine here


# -- The app under uvicorn ---------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base}/about")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the app did not answer within {timeout} s")


# -- The load ----------------------------------------------------------------------------------


class Load:
    def __init__(self, domain: str, served: set[int]) -> None:
        self.domain = domain
        self.served = served
        self.requests = 0
        self.errors: list[str] = []
        self.generations: set[int] = set()

    def check_page(self, text: str) -> None:
        urls = _URL.findall(text)
        if len(urls) != 2:
            raise AssertionError(f"expected 2 CDN URLs, found {urls}")
        found = set()
        for url in urls:
            if not url.startswith(f"http://{self.domain}/static/"):
                raise AssertionError(f"URL off the CDN: {url}")
            match = _VERSION.search(url)
            if match is None:
                raise AssertionError(f"URL without a manifest version: {url}")
            found.add(int(match[1], 16))
        if len(found) != 1:
            raise AssertionError(f"one page, several manifests: {urls}")
        generation = found.pop()
        if generation not in self.served:
            raise AssertionError(f"a generation never served: {generation}")
        self.generations.add(generation)

    async def worker(self, client: httpx.AsyncClient, base: str, deadline: float) -> None:
        rng = random.Random()
        while time.monotonic() < deadline:
            path = "/" if rng.random() < 0.8 else "/about"
            try:
                response = await client.get(base + path)
                if response.status_code != 200:
                    raise AssertionError(f"{path} answered {response.status_code}")
                if path == "/":
                    self.check_page(response.text)
            except Exception as exc:  # every failure is counted
                if len(self.errors) < 20:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    self.errors.append("")
            self.requests += 1


async def soak(args: argparse.Namespace) -> int:
    state = ManifestState(args.change_every, args.fail_rate, args.seed)
    manifest_server = _Server(state)
    server_thread = threading.Thread(target=manifest_server.serve_forever, daemon=True)
    server_thread.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    domain = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "CDN_DOMAIN": domain,
        "CDN_MANIFEST_URL": f"http://127.0.0.1:{manifest_server.server_address[1]}/manifest.md5",
        "CDN_MANIFEST_REFRESH": str(args.refresh),
    }
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(APP_DIR), "app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--no-access-log",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="quart-cdn-soak-") as scratch:
        log_path = Path(scratch) / "uvicorn.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            await wait_until_up(base, process, timeout=30)
            load = Load(domain, state.served)
            limits = httpx.Limits(max_connections=args.concurrency)
            started = time.monotonic()
            deadline = started + args.seconds
            warm_up = min(10.0, args.seconds / 10)
            async with httpx.AsyncClient(limits=limits, timeout=10) as client:
                workers = [
                    asyncio.create_task(load.worker(client, base, deadline))
                    for _ in range(args.concurrency)
                ]
                await asyncio.sleep(warm_up)
                start_rss, start_fds = rss_kib(process.pid), open_fds(process.pid)
                start_requests = load.requests
                samples = []
                while time.monotonic() < deadline:
                    await asyncio.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
                    samples.append((rss_kib(process.pid), open_fds(process.pid)))
                await asyncio.wait_for(asyncio.gather(*workers), timeout=30)
                end_rss, end_fds = rss_kib(process.pid), open_fds(process.pid)
            elapsed = time.monotonic() - started
        finally:
            stop_process(process)
            manifest_server.shutdown()
            manifest_server.server_close()
        log_text = log_path.read_text(errors="replace")

    refresh_failures = log_text.count("Manifest refresh failed")
    errors = len(load.errors)
    print(f"duration            {elapsed:.0f} s (warm-up {warm_up:.0f} s)")
    print(f"requests served     {load.requests} ({load.requests / elapsed:.0f}/s)")
    print(f"errors              {errors}")
    for message in [m for m in load.errors if m][:10]:
        print(f"  {message}")
    print(f"manifest requests   {state.requests}, failed on purpose: {sum(state.failures.values())}"
          f" {dict(sorted(state.failures.items()))}")  # fmt: skip
    print(f"manifests seen      {len(load.generations)} generations on pages")
    print(f"refresh failures    {refresh_failures} logged by the app")
    print(f"RSS (KiB)           start {start_rss}, end {end_rss}, "
          f"range {min(s[0] for s in samples)}-{max(s[0] for s in samples)}")  # fmt: skip
    print(f"open fds            start {start_fds}, end {end_fds}, "
          f"range {min(s[1] for s in samples)}-{max(s[1] for s in samples)}")  # fmt: skip
    print(f"requests after warm-up {load.requests - start_requests}")
    unexpected = [
        line for line in log_text.splitlines()
        if line.strip() and "Manifest refresh failed" not in line
        and " httpx: HTTP Request: " not in line  # the example app logs httpx at INFO
    ]  # fmt: skip
    if unexpected:
        print(f"other log lines     {len(unexpected)}, first: {unexpected[:5]}")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long to load (180)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (16)")
    parser.add_argument("--change-every", type=float, default=0.1, help="manifest change (0.1 s)")
    parser.add_argument("--refresh", type=float, default=1.0, help="CDN_MANIFEST_REFRESH (1)")
    parser.add_argument("--fail-rate", type=float, default=0.5, help="manifest failures (0.5)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the failure choice")
    return asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
