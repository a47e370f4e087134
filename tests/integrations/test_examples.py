"""The example apps, run as a newcomer runs them: under a real uvicorn, on a port of its
own, with no ``CDN_DOMAIN``. Every asset URL on the page must answer 200 from that port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSET = re.compile(r'(?:href|src)="(http://[^"]+/static/[^"]+)"')


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=5, trust_env=False)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def clean_env() -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDN_")}
    yield env


@pytest.mark.parametrize(
    "args",
    [
        ["--app-dir", "examples/quart_app", "app:app"],
        ["examples.starlette_app.app:app"],
        ["examples.fastapi_app.app:app"],
    ],
    ids=["quart", "starlette", "fastapi"],
)
def test_example_app_works_on_any_port(args: list[str], clean_env: dict[str, str]) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=clean_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        page = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 20)
        assert page.status_code == 200
        assets = ASSET.findall(page.text)
        assert len(assets) >= 2, page.text
        for url in assets:
            assert url.startswith(f"http://127.0.0.1:{port}/static/"), url
            response = httpx.get(url, timeout=5, trust_env=False)
            assert response.status_code == 200, url
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    # The examples configure logging: quart-cdn's records show level and logger.
    assert b"Traceback" not in output, output.decode(errors="replace")
