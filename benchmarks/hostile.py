"""A hostile manifest origin, measured: memory while refusing bombs, the worst event-loop
stall while decoding, and how fast real servers stop while a manifest read is wedged.

Not run in CI (the full run builds 1 GiB bombs). Each figure comes from a fresh child
process, so one case's memory high-water mark never hides another's:

* **bombs**: a body that inflates to ``--bomb-mib`` MiB (one gzip layer, ``gzip, gzip``,
  one brotli layer) served by a blocking socket thread on 127.0.0.1 to
  :class:`UrlManifestSource` with the default cap (32 MiB). Reported: the growth of the
  child's peak RSS (``VmHWM``, reset just before) during the load, against the cap; and
  the longest time the event loop went without running a ticker task (the worst stall),
  in wall time and in the main thread's CPU time.
* **a big valid manifest**: a gzip'd checksum manifest of 240,000 lines (the parser takes
  250,000 entries at most), loaded; its stall includes parsing (the parser's, not the
  source's).
* **shutdown**: uvicorn and hypercorn serving ``tests/_wedged_app.py``; after startup the
  manifest path becomes a FIFO without a writer, or every read hangs; then SIGTERM, and the
  time until the process has exited.

    .venv/bin/python benchmarks/hostile.py            # 1 GiB bombs
    .venv/bin/python benchmarks/hostile.py --quick    # 256 MiB bombs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CAP = 32 * 1024 * 1024


# -- bodies -------------------------------------------------------------------------------------


def _gzip_zeros(mib: int, level: int = 1) -> bytes:
    packer, zeros = zlib.compressobj(level, zlib.DEFLATED, 31), b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def _bodies(mib: int) -> dict[str, tuple[str, bytes]]:
    import brotli  # type: ignore[import-untyped]

    single = _gzip_zeros(mib)
    stacked = _gzip(_gzip_zeros(mib, 9))
    # As many lines as the parser accepts (250,000 entries at most).
    lines = b"".join(b"%032x  static/%026d.js\n" % (i, i) for i in range(240_000))
    return {
        "gzip bomb": ("gzip", single),
        "gzip, gzip bomb": ("gzip, gzip", stacked),
        "br bomb": ("br", bytes(brotli.compress(b"\0" * (mib << 20), quality=1))),
        f"valid gzip manifest ({len(lines) >> 20} MiB)": ("gzip", _gzip(lines)),
    }


# -- one case, in a child process ---------------------------------------------------------------


def _serve_once(body: bytes, encoding: str) -> tuple[int, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Encoding: {encoding}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    def run() -> None:
        with listener:
            listener.settimeout(30)
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):  # the client closed early, as it should
                    conn.sendall(head + body)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


async def _measure(port: int) -> dict[str, Any]:
    from quart_cdn import ManifestError
    from quart_cdn._sources import UrlManifestSource

    source = UrlManifestSource(f"http://127.0.0.1:{port}/m", timeout=60, max_bytes=CAP)
    worst, worst_cpu, running = 0.0, 0.0, True

    async def ticker() -> None:
        # Wall time between two turns of this task, and the main thread's CPU time in it
        # (what the loop really spent; the wall figure adds the other processes of a
        # shared machine taking the CPU away).
        nonlocal worst, worst_cpu
        while running:
            start, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0)
            worst = max(worst, time.perf_counter() - start)
            worst_cpu = max(worst_cpu, time.thread_time() - cpu)

    # Warm up (lazy imports, the first worker thread, the first connection) on a tiny body.
    small, thread = _serve_once(b"aaaaaaaa11111111  static/js/app.js\n", "identity")
    await UrlManifestSource(f"http://127.0.0.1:{small}/m", timeout=60).load()
    thread.join(5)
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    # Linux keeps ru_maxrss across fork+exec (the parent's peak): reset this process's own
    # high-water mark (VmHWM) instead and read it after the load.
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    try:
        manifest = await source.load()
        outcome = f"loaded {len(manifest)} entries"
    except ManifestError as exc:
        outcome = str(exc).split("' ", 1)[1][:60]
    elapsed = time.perf_counter() - start
    running = False
    await task
    grown = _status_kib("VmHWM") - before
    return {
        "outcome": outcome,
        "rss_kib": grown,
        "stall_s": worst,
        "stall_cpu_s": worst_cpu,
        "seconds": elapsed,
    }


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def child(path: str, encoding: str) -> None:
    body = Path(path).read_bytes()
    import quart_cdn._sources.http  # noqa: F401  (imports before the baseline)

    port, thread = _serve_once(body, encoding)
    del body
    print(json.dumps(asyncio.run(_measure(port))))
    thread.join(5)


def _run_case(body: bytes, encoding: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(body)
        f.flush()
        out = subprocess.run(
            [sys.executable, __file__, "--child", f.name, encoding],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# -- shutdown ------------------------------------------------------------------------------------


def _shutdown_time(server: str, fault: str) -> float:
    command = {
        "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "0", "_wedged_app:app"],
        "hypercorn": ["-m", "hypercorn", "--bind", "127.0.0.1:0", "_wedged_app:app"],
    }[server]
    with tempfile.TemporaryDirectory() as tmp:
        manifest, marker = Path(tmp) / "manifest.txt", Path(tmp) / "hang"
        manifest.write_bytes(b"aaaaaaaa11111111  static/js/app.js\n")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
            "QUART_CDN_TEST_MANIFEST": str(manifest),
            "QUART_CDN_TEST_HANG": str(marker),
        }
        proc = subprocess.Popen(
            [sys.executable, *command], env=env, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        try:
            _wait_for(proc, "READY")
            if fault == "none":
                pass
            elif fault == "fifo":
                os.mkfifo(Path(tmp) / "fifo")
                os.replace(Path(tmp) / "fifo", manifest)
                _wait_for(proc, "FIFO")
            else:
                manifest.write_bytes(b"bbbbbbbb22222222  static/js/app.js\n")
                marker.touch()
                _wait_for(proc, "could not be read within")
            start = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            return time.perf_counter() - start
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()


def _wait_for(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise RuntimeError(f"the server never logged {text!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB bombs instead of 1 GiB")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    mib = 256 if args.quick else 1024
    print(f"Bombs inflating to {mib} MiB; cap {CAP >> 20} MiB (CDN_MANIFEST_MAX_BYTES default)")
    print(
        f"{'case':34} {'peak RSS growth':>16} {'x cap':>6} {'worst stall: wall':>18}"
        f" {'cpu':>8} {'time':>7}"
    )
    for name, (encoding, body) in _bodies(mib).items():
        r = _run_case(body, encoding)
        print(
            f"{name:34} {r['rss_kib'] / 1024:12.1f} MiB {r['rss_kib'] * 1024 / CAP:6.2f} "
            f"{r['stall_s'] * 1000:15.2f} ms {r['stall_cpu_s'] * 1000:5.2f} ms "
            f"{r['seconds']:6.2f}s  {r['outcome']}"
        )
    print("\nSIGTERM to exit after startup (none: the same app with a good manifest):")
    for server in ("uvicorn", "hypercorn"):
        for fault in ("none", "fifo", "hung-read"):
            print(f"  {server:9} {fault:9} {_shutdown_time(server, fault) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
