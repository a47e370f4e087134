"""The file source against what a real file system can do: FIFOs, devices, sockets, files
rewritten in place, reads that hang; and real uvicorn/hypercorn processes that must still
stop on SIGTERM while a manifest read is wedged."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from quart_cdn import ManifestLoadError
from quart_cdn._sources.file import FileManifestSource

V1 = b"aaaaaaaa11111111  static/js/app.js\naaaaaaaa11111112  static/css/app.css\n"
V2 = b"bbbbbbbb22222222  static/js/app.js\nbbbbbbbb22222223  static/css/app.css\n"
V3 = b"cccccccc33333333  static/js/app.js\n"
TESTS = Path(__file__).parent


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.txt"
    path.write_bytes(V1)
    return path


async def _load(source: FileManifestSource) -> object:
    with anyio.fail_after(5):  # the code before this change hung here for ever
        return await source.load()


# -- 3. Not regular files, deadlines ---------------------------------------------------------


async def test_file_source_fifo_without_writer_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "manifest.txt"
    os.mkfifo(fifo)
    with pytest.raises(ManifestLoadError, match=r"is a FIFO \(named pipe\), not a regular file"):
        await _load(FileManifestSource(fifo, timeout=1))


async def test_file_source_device_refused() -> None:
    with pytest.raises(ManifestLoadError, match=r"'/dev/null' is a character device, not a"):
        await _load(FileManifestSource("/dev/null", timeout=1))


async def test_file_source_socket_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    if len(str(path)) > 100:
        pytest.skip("the temporary path is too long for a unix socket")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(ManifestLoadError, match=r"is a socket, not a regular file"):
            await _load(FileManifestSource(path, timeout=1))


@pytest.fixture
def hanging_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every read blocks (as on a hung network mount) until the event is set."""
    release = threading.Event()
    original = FileManifestSource._read

    def hang(self: FileManifestSource, known: object) -> object:
        release.wait()
        return original(self, known)  # type: ignore[arg-type]

    monkeypatch.setattr(FileManifestSource, "_read", hang)
    yield release
    release.set()


async def test_file_source_hung_read_is_bounded_and_abandoned(
    manifest: Path, hanging_reads: threading.Event
) -> None:
    source = FileManifestSource(manifest, timeout=0.2)
    with pytest.raises(ManifestLoadError, match=r"could not be read within 0.2 s; is it on a hung"):
        await _load(source)
    # While that read hangs, another load fails at once instead of stacking threads.
    with pytest.raises(ManifestLoadError, match=r"a read started \d+ s ago has not returned"):
        await _load(source)
    hanging_reads.set()
    for _ in range(200):  # the abandoned thread returns, then loads work again
        try:
            assert len(await _load(source)) == 2  # type: ignore[arg-type]
            break
        except ManifestLoadError:
            await asyncio.sleep(0.01)
    else:
        pytest.fail("loads never resumed")


def test_asyncio_run_returns_while_a_read_hangs(manifest: Path, tmp_path: Path) -> None:
    """asyncio.run (and the interpreter) exit although the read's thread never returns."""
    script = textwrap.dedent(
        f"""
        import asyncio, threading
        from quart_cdn import ManifestLoadError
        from quart_cdn._sources.file import FileManifestSource
        FileManifestSource._read = lambda self, known: threading.Event().wait()
        async def main():
            try:
                await FileManifestSource({str(manifest)!r}, timeout=0.2).load()
            except ManifestLoadError as exc:
                print(exc)
        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=30, check=True
    )
    assert b"could not be read within 0.2 s" in done.stdout


# -- 10. No churn, and no missed change ------------------------------------------------------


async def test_file_source_rewrite_in_place_with_size_and_mtime_put_back_is_seen(
    manifest: Path,
) -> None:
    """cp -p / touch -r: same size, same mtime, new content; the ctime gives it away."""
    source = FileManifestSource(manifest)
    first = await _load(source)
    before = manifest.stat()
    assert len(V2) == len(V1)
    manifest.write_bytes(V2)
    os.utime(manifest, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert manifest.stat().st_mtime_ns == before.st_mtime_ns
    second = await _load(source)
    assert second is not first
    assert dict(second)["static/js/app.js"] == "bbbbbbbb22222222"  # type: ignore[call-overload]


async def test_file_source_same_bytes_in_a_new_file_give_the_same_object(manifest: Path) -> None:
    source = FileManifestSource(manifest)
    first = await _load(source)
    staged = manifest.with_name("staged")
    staged.write_bytes(V1)
    os.replace(staged, manifest)
    assert await _load(source) is first


async def test_file_source_changed_while_read_refused(
    manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer appends while the reader is between its reads: a real in-place change."""
    original = os.read

    def read_then_append(fd: int, size: int) -> bytes:
        data = original(fd, 10)
        with manifest.open("ab") as f:
            f.write(b"dddddddd44444444  static/late.js\n")
        monkeypatch.setattr(os, "read", original)
        return data

    monkeypatch.setattr(os, "read", read_then_append)
    with pytest.raises(ManifestLoadError, match=r"was changed while it was read"):
        await _load(FileManifestSource(manifest))


# -- 2. A reload that drops names -------------------------------------------------------------


async def test_reload_dropping_names_wins_and_says_so(
    manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = FileManifestSource(manifest)
    await _load(source)
    manifest.write_bytes(V3)
    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        new = await _load(source)
    assert list(new) == ["static/js/app.js"]  # type: ignore[call-overload]
    assert [r.getMessage() for r in caplog.records] == [
        f"Manifest {str(manifest)!r} dropped 1 names the previous one listed "
        "('static/css/app.css'); the new manifest is in force, so in strict mode those "
        "names now raise NotInManifestError"
    ]


# -- 3. Real servers stop on SIGTERM while a read is wedged ------------------------------------


def _serve(server: str, manifest: Path, marker: Path) -> subprocess.Popen[str]:
    command = {
        "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "0", "_wedged_app:app"],
        "hypercorn": ["-m", "hypercorn", "--bind", "127.0.0.1:0", "_wedged_app:app"],
    }[server]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "QUART_CDN_TEST_MANIFEST": str(manifest),
        "QUART_CDN_TEST_HANG": str(marker),
    }
    return subprocess.Popen(
        [sys.executable, *command], env=env, stderr=subprocess.PIPE, text=True, cwd=TESTS
    )


def _wait_for_line(proc: subprocess.Popen[str], text: str, lines: list[str]) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    pytest.fail(f"never saw {text!r}:\n{''.join(lines)}")


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
@pytest.mark.parametrize("fault", ["fifo", "hung-read"])
def test_server_stops_on_sigterm_while_the_manifest_read_is_wedged(
    tmp_path: Path, server: str, fault: str
) -> None:
    """Startup completes on a good manifest; then the path becomes a FIFO without a writer,
    or every read hangs; the refresher meets it; SIGTERM still stops the process."""
    manifest, marker = tmp_path / "manifest.txt", tmp_path / "hang"
    manifest.write_bytes(V1)
    proc = _serve(server, manifest, marker)
    lines: list[str] = []
    try:
        _wait_for_line(proc, "READY", lines)
        if fault == "fifo":
            os.mkfifo(tmp_path / "fifo")
            os.replace(tmp_path / "fifo", manifest)
            _wait_for_line(proc, "is a FIFO (named pipe), not a regular file", lines)
        else:
            manifest.write_bytes(V2)
            marker.touch()
            _wait_for_line(proc, "could not be read within 0.5 s", lines)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=5)  # the code before this change never exited
        assert proc.stderr is not None
        lines.append(proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    # uvicorn re-raises the signal once it has shut down cleanly; hypercorn exits with 0.
    assert code in (0, -signal.SIGTERM), "".join(lines)
    assert "shutdown" in lines[-1].lower() or server == "hypercorn", "".join(lines)
