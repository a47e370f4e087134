"""Real parts for the end-to-end test: the example app, nginx as "the CDN", headless Chromium.

Shared by ``tests/e2e/test_browser.py`` and ``scripts/screenshots.py``. Everything runs on
free ports of 127.0.0.1 and keeps its files (logs, cache, profile) in a directory it is given.
Each part is a context manager that stops its processes, and waits for them, on exit.

The browser is driven over the Chrome DevTools Protocol with a small synchronous websocket
client built on ``wsproto`` (a dependency of Hypercorn, so already in the dev extras). It runs
under ``_reaper.py``, which waits for the helpers Chromium starts outside its process group.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "quart_app"

#: The colour the example's stylesheet gives ``h1``, and the one a new build gives it.
OLD_COLOUR = "rgb(0, 102, 204)"
NEW_COLOUR = "rgb(204, 51, 0)"
CSS = "css/app.css"

#: Chromium flags that keep it headless and off the network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
]

# What the browser reports about the page it shows.
_PAGE_REPORT_JS = """(() => {
  const h1 = document.querySelector('h1');
  const status = document.getElementById('script-status');
  return {
    location: location.href,
    assets: [...document.querySelectorAll('link[rel=stylesheet], script[src]')]
      .map(e => ({tag: e.tagName.toLowerCase(), url: e.href || e.src})),
    stylesheets: [...document.styleSheets].map(s => s.href),
    resources: performance.getEntriesByType('resource')
      .map(e => ({url: e.name, initiator: e.initiatorType})),
    h1Colour: h1 ? getComputedStyle(h1).color : null,
    scriptStatus: status ? status.textContent : null,
  };
})()"""


def find_executable(env_var: str, *names: str) -> str | None:
    """``$env_var`` if set, else the first of ``names`` on PATH (or in /usr/sbin, /usr/bin)."""
    if os.environ.get(env_var):
        return shutil.which(os.environ[env_var])
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"])
    for name in names:
        if found := shutil.which(name, path=path):
            return found
    return None


def find_nginx() -> str | None:
    return find_executable("QUART_CDN_NGINX", "nginx")


def find_chromium() -> str | None:
    return find_executable(
        "QUART_CDN_CHROMIUM", "chromium", "chromium-browser", "google-chrome", "chrome"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http_client() -> httpx.Client:
    """A client that never goes through a proxy from the environment."""
    return httpx.Client(trust_env=False, timeout=5.0)


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.05) -> Any:
    """Call ``check()`` until it returns something truthy; ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A subprocess in its own process group, its output in a log file.

    ``stop()`` signals the group, waits for the leader (killing it after ``timeout``), then
    kills whatever of the group is left, and closes the log.
    """

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = log
        self._log = log.open("wb")
        try:
            self.popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=log.parent,
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def check_running(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with status {self.popen.returncode}; its log:\n"
                + self.log_tail()
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        pgid = self.popen.pid
        try:
            if self.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, sig)  # the leader is not reaped yet: the group is ours
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    self.popen.wait()
            # Helpers the leader left behind (Chromium's renderers, nginx's workers).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        finally:
            self._log.close()


# --------------------------------------------------------------------------- the CDN


NGINX_CONF = """\
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;

events {{ worker_connections 128; }}

http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=cdn:1m max_size=64m inactive=1d
                     use_temp_path=off;

    server {{
        listen 127.0.0.1:{port};
        location / {{
            # An origin-pull CDN: ask the app once, then serve from the cache for a day,
            # whatever the app says about caching.
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_cache cdn;
            proxy_cache_key $scheme$proxy_host$request_uri;
            proxy_cache_valid 200 1d;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            add_header X-Cache-Status $upstream_cache_status always;
{extra}
        }}
    }}
}}
"""


class Nginx:
    """nginx on ``port`` as a caching reverse proxy in front of ``upstream``."""

    def __init__(
        self, executable: str, tmp: Path, port: int, upstream: int, *, cors: bool = False
    ) -> None:
        # cors: add Access-Control-Allow-Origin itself (module scripts and SRI-checked files
        # from another host need it), for apps that do not send it.
        self.extra = "            add_header Access-Control-Allow-Origin * always;" if cors else ""
        self.executable = executable
        self.tmp = tmp
        self.port = port
        self.upstream = upstream
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"
        self.process: Process | None = None

    def __enter__(self) -> Nginx:
        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "nginx.conf"
        # As root the master hands work to workers of the "user" directive: keep them root
        # so that they can read and write our (private) temporary directory.
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(
            NGINX_CONF.format(
                user=user, tmp=self.tmp, port=self.port, upstream=self.upstream, extra=self.extra
            )
        )
        args = [self.executable, "-p", str(self.tmp), "-c", str(conf), "-e", "stderr"]
        self.process = Process("nginx", args, self.tmp / "nginx.out")
        try:
            wait_until("nginx to listen", self._listening, timeout=15)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        self.process.check_running()
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM)  # fast shutdown
            self.process = None


# --------------------------------------------------------------------------- the app


class App:
    """The example app under uvicorn, with its CDN at ``cdn_host``."""

    def __init__(
        self,
        tmp: Path,
        port: int,
        *,
        static: Path,
        cdn_host: str,
        manifest: Path | None,
        refresh: float = 1.0,
    ) -> None:
        self.tmp = tmp
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "QUART_CDN_EXAMPLE_STATIC": str(static),
            "CDN_DOMAIN": cdn_host,
            # No manifest: no timestamps either, so the URLs carry no version at all.
            "CDN_MANIFEST_URL": str(manifest) if manifest else "",
            "CDN_TIMESTAMP": "1" if manifest else "0",
            "CDN_MANIFEST_REFRESH": str(refresh),
        }
        self.process: Process | None = None

    def __enter__(self) -> App:
        self.tmp.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(EXAMPLE),
            "app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--timeout-graceful-shutdown",
            "3",
        ]
        self.process = Process("uvicorn", args, self.tmp / "uvicorn.log", env=self.env)
        try:
            with http_client() as client:
                wait_until("the app to serve", lambda: self._serving(client), timeout=20)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _serving(self, client: httpx.Client) -> bool:
        assert self.process is not None
        self.process.check_running()
        try:
            return client.get(self.url + "/about").status_code == 200
        except httpx.TransportError:
            return False

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM)
            self.process = None


@dataclass
class Site:
    """A copy of the example's static files, a manifest of them (or none), the app, the CDN.

    ``versioned=True``: the app versions URLs by a checksum manifest it reloads every
    ``refresh`` seconds. ``versioned=False``: no manifest and no timestamps.
    """

    nginx: str
    tmp: Path
    versioned: bool = True
    refresh: float = 1.0
    #: Ports to use when they are free (the screenshots like stable ones); else any free port.
    ports: tuple[int, int] | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __post_init__(self) -> None:
        self.static = self.tmp / "static"
        self.manifest = self.tmp / "build" / "manifest.md5" if self.versioned else None

    def __enter__(self) -> Site:
        shutil.copytree(EXAMPLE / "static", self.static)
        if self.manifest is not None:
            self.write_manifest()
        if self.ports and all(is_free(port) for port in self.ports):
            app_port, cdn_port = self.ports
        else:
            app_port, cdn_port = free_port(), free_port()
            while cdn_port == app_port:
                cdn_port = free_port()
        with self.stack:
            self.cdn = self.stack.enter_context(
                Nginx(self.nginx, self.tmp / "nginx", cdn_port, app_port)
            )
            self.app = self.stack.enter_context(
                App(
                    self.tmp / "app",
                    app_port,
                    static=self.static,
                    cdn_host=self.cdn.host,
                    manifest=self.manifest,
                    refresh=self.refresh,
                )
            )
            self.stack = self.stack.pop_all()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stack.close()

    def write_manifest(self) -> None:
        """Publish a manifest of the static files, as a deploy would: with the CLI."""
        assert self.manifest is not None
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "quart_cdn", "manifest", str(self.static)]
        subprocess.run([*cmd, "-o", str(self.manifest)], check=True, capture_output=True)

    def checksum(self, rel: str = CSS) -> str:
        return hashlib.md5((self.static / rel).read_bytes()).hexdigest()

    def page(self) -> str:
        with http_client() as client:
            response = client.get(self.app.url + "/")
            response.raise_for_status()
            return response.text

    def deploy_new_css(self, timeout: float = 10.0) -> None:
        """A new build: the stylesheet colours ``h1`` differently.

        The file is replaced atomically; with versioning, a new manifest is published and
        this returns once the app's page links the new checksum.
        """
        css = self.static / CSS
        text = css.read_text()
        assert OLD_COLOUR in text
        new = css.with_name(css.name + ".new")
        new.write_text(text.replace(OLD_COLOUR, NEW_COLOUR))
        os.replace(new, css)
        if self.manifest is not None:
            self.write_manifest()
            expected = f"{CSS}?c={self.checksum()}"
            wait_until("the app to link the new build", lambda: expected in self.page(), timeout)


# --------------------------------------------------------------------------- the browser


class CDPError(RuntimeError):
    pass


class DevTools:
    """A blocking Chrome DevTools Protocol connection over a websocket (``wsproto``)."""

    def __init__(self, port: int, path: str, timeout: float = 15.0) -> None:
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request

        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._next_id = 0
        self._text: list[str] = []
        self._messages: list[dict[str, Any]] = []
        self._open = False
        #: CDP events received and not yet consumed, per session ("" for the browser).
        self.events: dict[str, list[dict[str, Any]]] = {}
        try:
            self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target=path)))
            deadline = time.monotonic() + timeout
            while not self._open:
                self._receive(deadline)
        except BaseException:
            self.sock.close()
            raise

    def close(self) -> None:
        from wsproto.events import CloseConnection

        with contextlib.suppress(Exception):
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        self.sock.close()

    def _receive(self, deadline: float) -> None:
        from wsproto.events import (
            AcceptConnection,
            CloseConnection,
            Ping,
            RejectConnection,
            TextMessage,
        )

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from the browser in time")
        self.sock.settimeout(remaining)
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the browser closed the DevTools connection")
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self._open = True
            elif isinstance(event, RejectConnection):
                raise ConnectionError(f"DevTools websocket refused ({event.status_code})")
            elif isinstance(event, TextMessage):
                self._text.append(event.data)
                if event.message_finished:
                    message = json.loads("".join(self._text))
                    self._text.clear()
                    if "id" in message:
                        self._messages.append(message)
                    else:
                        self.events.setdefault(message.get("sessionId", ""), []).append(message)
            elif isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                raise ConnectionError("the browser closed the DevTools connection")

    def call(self, method: str, session: str = "", **params: Any) -> dict[str, Any]:
        from wsproto.events import TextMessage

        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.sock.sendall(self.ws.send(TextMessage(data=json.dumps(message))))
        deadline = time.monotonic() + self.timeout
        while True:
            for answer in self._messages:
                if answer["id"] == message["id"]:
                    self._messages.remove(answer)
                    if "error" in answer:
                        raise CDPError(f"{method}: {answer['error']}")
                    result: dict[str, Any] = answer.get("result", {})
                    return result
            self._receive(deadline)

    def wait_event(self, method: str, session: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events.get(session, []):
                if event["method"] == method:
                    params: dict[str, Any] = event["params"]
                    return params
            self._receive(deadline)


@dataclass
class Visit:
    """What the browser saw of one page load."""

    url: str
    report: dict[str, Any]
    #: URL -> the response's headers (names lower-cased), for every response of the load.
    responses: dict[str, dict[str, str]]
    screenshot: bytes | None = None

    @property
    def h1_colour(self) -> str:
        return str(self.report["h1Colour"])

    @property
    def script_status(self) -> str:
        return str(self.report["scriptStatus"])

    @property
    def asset_urls(self) -> list[str]:
        return [asset["url"] for asset in self.report["assets"]]

    def asset(self, suffix: str) -> str:
        """The one asset URL whose path ends with ``suffix``."""
        (url,) = [url for url in self.asset_urls if urlsplit(url).path.endswith(suffix)]
        return url

    def cache_status(self, url: str) -> str | None:
        return self.responses[url].get("x-cache-status")


class Chromium:
    """Headless Chromium with a fresh profile, driven over DevTools.

    Each :meth:`visit` opens the page in a new browser context (a fresh visitor: empty
    cache, no cookies), so what it gets is what the CDN serves.
    """

    def __init__(self, executable: str, tmp: Path) -> None:
        self.executable = executable
        self.tmp = tmp
        self.process: Process | None = None
        self.devtools: DevTools | None = None

    def __enter__(self) -> Chromium:
        profile = self.tmp / "profile"
        profile.mkdir(parents=True)
        args = [
            sys.executable,
            str(Path(__file__).with_name("_reaper.py")),
            self.executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        env = {**os.environ, "HOME": str(self.tmp), "CHROMIUM_FLAGS": ""}
        self.process = Process("chromium", args, self.tmp / "chromium.log", env=env)
        try:
            active = profile / "DevToolsActivePort"
            wait_until("Chromium's DevTools port", lambda: self._port_file(active), timeout=30)
            port, path = active.read_text().split()[:2]
            self.devtools = DevTools(int(port), path)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _port_file(self, active: Path) -> bool:
        assert self.process is not None
        self.process.check_running()
        return active.exists() and len(active.read_text().split()) >= 2

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.devtools is not None:
            with contextlib.suppress(Exception):
                self.devtools.call("Browser.close")
            self.devtools.close()
            self.devtools = None
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.popen.wait(5)
            self.process.stop(signal.SIGTERM, timeout=5)
            self.process = None

    @contextlib.contextmanager
    def tab(self, width: int = 900, height: int = 600) -> Iterator[str]:
        """A page in a new browser context; yields its DevTools session id."""
        cdp = self.devtools
        assert cdp is not None
        context = cdp.call("Target.createBrowserContext")["browserContextId"]
        session = ""
        try:
            target = cdp.call("Target.createTarget", url="about:blank", browserContextId=context)
            session = cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)[
                "sessionId"
            ]
            cdp.call("Page.enable", session)
            cdp.call("Network.enable", session)
            cdp.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            yield session
        finally:
            with contextlib.suppress(CDPError):
                cdp.call("Target.disposeBrowserContext", browserContextId=context)
            cdp.events.pop(session, None)

    def load(self, session: str, url: str) -> None:
        """Navigate and wait for the load event (stylesheets and deferred scripts are done)."""
        cdp = self.devtools
        assert cdp is not None
        cdp.events[session] = []
        navigation = cdp.call("Page.navigate", session, url=url)
        if navigation.get("errorText"):
            raise CDPError(f"cannot load {url}: {navigation['errorText']}")
        cdp.wait_event("Page.loadEventFired", session)

    def evaluate(self, session: str, expression: str) -> Any:
        cdp = self.devtools
        assert cdp is not None
        result = cdp.call(
            "Runtime.evaluate",
            session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, session: str) -> bytes:
        cdp = self.devtools
        assert cdp is not None
        data = cdp.call("Page.captureScreenshot", session, format="png")["data"]
        return base64.b64decode(data)

    def visit(
        self, url: str, *, screenshot: bool = False, width: int = 900, height: int = 600
    ) -> Visit:
        """Load ``url`` as a new visitor; report what the page and the network showed."""
        cdp = self.devtools
        assert cdp is not None
        with self.tab(width, height) as session:
            self.load(session, url)
            report = self.evaluate(session, _PAGE_REPORT_JS)
            responses = {
                event["params"]["response"]["url"]: {
                    name.lower(): value
                    for name, value in event["params"]["response"]["headers"].items()
                }
                for event in cdp.events.get(session, [])
                if event["method"] == "Network.responseReceived"
            }
            image = self.screenshot(session) if screenshot else None
        return Visit(url, report, responses, image)

    def render(self, html: str, *, width: int = 900, height: int = 600) -> bytes:
        """A screenshot of ``html`` (a report made by the caller)."""
        cdp = self.devtools
        assert cdp is not None
        with self.tab(width, height) as session:
            frame = cdp.call("Page.getFrameTree", session)["frameTree"]["frame"]["id"]
            cdp.call("Page.setDocumentContent", session, frameId=frame, html=html)
            return self.screenshot(session)
