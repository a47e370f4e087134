"""``CDN_DEV_SERVER`` against a real Vite dev server: every URL that ``entry_tags`` emits
(the client, React Refresh's runtime, a module entry, a CSS entry) is fetched from it.

Vite and ``@vitejs/plugin-react`` are installed from the npm registry into a temporary
directory once per session; the tests skip, saying why, where node or npm is missing or the
install fails. The dev server serves Vite's ``base: '/static/'``, as a Quart app's static
URL path would be, so the setting carries that base: ``http://127.0.0.1:<port>/static``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jinja2
import pytest
from quart import Quart, render_template_string
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from quart_cdn import CDN
from quart_cdn.starlette import StarletteCDN

#: The versions installed; the dev server's URLs are the same across Vite 5-8.
NPM_PACKAGES = ("vite@8", "@vitejs/plugin-react@5")
#: How long the install and the server's start may take, and how long the server may live.
INSTALL_TIMEOUT = 240.0
START_TIMEOUT = 60.0
SERVER_LIFETIME = 900

VITE_CONFIG = """\
import react from '@vitejs/plugin-react'
export default { base: '/static/', plugins: [react()], logLevel: 'warn', clearScreen: false }
"""
MAIN_JS = "import './app.css'\ndocument.documentElement.dataset.main = 'ran'\n"
APP_CSS = ".box { color: rgb(1, 2, 3) }\n"
THEME_CSS = "html { border-top: 4px solid rgb(4, 5, 6) }\n"

pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + START_TIMEOUT + 60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def vite_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with Vite installed from the npm registry and a tiny front end."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run a Vite dev server; neither is on PATH")
    project = tmp_path_factory.mktemp("vite")
    (project / "package.json").write_text('{"private": true, "type": "module"}\n')
    try:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES],
            cwd=project,
            check=True,
            capture_output=True,
            timeout=INSTALL_TIMEOUT,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"npm install {' '.join(NPM_PACKAGES)} failed: {exc} {output[-300:]!r}")
    (project / "vite.config.mjs").write_text(VITE_CONFIG)
    (project / "src").mkdir()
    (project / "src" / "main.js").write_text(MAIN_JS)
    (project / "src" / "app.css").write_text(APP_CSS)
    (project / "src" / "theme.css").write_text(THEME_CSS)
    return project


@pytest.fixture(scope="session")
def vite_server(vite_project: Path) -> Iterator[str]:
    """A running Vite dev server; yields its URL with the base (``http://.../static``)."""
    port = _free_port()
    command = [
        "node",
        str(vite_project / "node_modules" / "vite" / "bin" / "vite.js"),
        "--config",
        "vite.config.mjs",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--strictPort",
    ]
    if (timeout := shutil.which("timeout")) is not None:  # it stops by itself, whatever happens
        command = [timeout, str(SERVER_LIFETIME), *command]
    log = (vite_project / "vite.log").open("wb")
    process = subprocess.Popen(
        command,
        cwd=vite_project,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/static"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{base}/@vite/client", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (vite_project / "vite.log").read_text()[-500:]
                pytest.skip(f"Vite dev server did not start: {output}")
            time.sleep(0.1)  # polling a process we started, with a deadline
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.stdin is not None:
            process.stdin.close()
        log.close()


PAGE = (
    "{{ entry_tags('src/main.js', 'src/theme.css', nonce='n0nce') }}{{ entry_tags('src/main.js') }}"
)


def _urls(markup: str) -> tuple[list[str], list[str], list[str]]:
    """Module script URLs, stylesheet URLs and the preamble's import, in page order."""
    scripts = re.findall(r'<script type="module" src="([^"]+)"', markup)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', markup)
    imports = re.findall(r"import RefreshRuntime from '([^']+)'", markup)
    return scripts, styles, imports


def _check_served(base: str, markup: str) -> None:
    scripts, styles, imports = _urls(markup)
    assert scripts == [f"{base}/@vite/client", f"{base}/src/main.js", f"{base}/src/main.js"]
    assert styles == [f"{base}/src/theme.css"]
    assert imports == [f"{base}/@react-refresh"]
    assert markup.index("@react-refresh") < markup.index("@vite/client")
    with httpx.Client(timeout=10) as client:
        for url in [*scripts, *imports]:
            response = client.get(url)
            assert response.status_code == 200, url
            assert "javascript" in response.headers["content-type"], url
        client_js = client.get(scripts[0]).text
        assert "import.meta.hot" in client_js or "HMRContext" in client_js
        main = client.get(scripts[1]).text
        assert "dataset.main" in main and "app.css" in main  # the module, as Vite serves it
        assert "RefreshRuntime" in client.get(imports[0]).text or "injectIntoGlobalHook" in (
            client.get(imports[0]).text
        )
        css = client.get(styles[0], headers={"Accept": "text/css,*/*;q=0.1"})
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "rgb(4, 5, 6)" in css.text or "#040506" in css.text


async def test_dev_server_quart_urls_are_served_by_vite(vite_server: str, tmp_path: Path) -> None:
    app = Quart(__name__, static_folder=str(tmp_path))
    app.config.update(
        CDN_DOMAIN="cdn.example.com",
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=str(tmp_path / "missing.json"),  # never loaded in this mode
        CDN_DEV_SERVER=vite_server + "/",
        CDN_DEV_SERVER_REACT=True,
    )
    CDN(app)

    @app.route("/")
    async def page() -> str:
        return await render_template_string(PAGE)

    async with app.test_app():
        markup = await (await app.test_client().get("/")).get_data(as_text=True)
    assert markup.count('nonce="n0nce"') == 4  # preamble, client, the two entries of the call
    _check_served(vite_server, markup)


async def test_dev_server_starlette_urls_are_served_by_vite(vite_server: str) -> None:
    cdn = StarletteCDN(dev_server=vite_server, dev_server_react=True)
    templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.DictLoader({"p": PAGE})))
    cdn.install(templates)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p")

    app = Starlette(routes=[Route("/", page)], lifespan=cdn.lifespan)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        markup = (await client.get("/")).text
    _check_served(vite_server, markup)
