"""Real parts for ``test_origin.py``: builds made with the ``quart-cdn`` command, app instances
under uvicorn, and nginx as an origin-pull CDN that honours the origin's ``Cache-Control``
in front of one or two instances (round robin).

Builds on ``_harness.py`` (processes, ports, the browser) and keeps to 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import httpx
from _harness import Process, free_port, http_client, wait_until

HERE = Path(__file__).resolve().parent
#: The colours a build's stylesheet gives ``h1``: build 1, build 2.
COLOURS = {1: "rgb(0, 102, 204)", 2: "rgb(204, 51, 0)"}
# Long enough for .br/.gz siblings to save more than 5 %.
_FILLER = "".join(f".rule-{n} {{ margin: {n}px; }}\n" for n in range(60))


def make_build(root: Path, version: int, kind: str, *, compress: bool = False) -> Build:
    """A build of the static files in ``root``, versioned as a deploy would: ``kind`` is
    ``"checksum"`` (``quart-cdn manifest``) or ``"hashed"`` (``quart-cdn digest``)."""
    static = root / "static"
    (static / "css").mkdir(parents=True)
    (static / "js").mkdir()
    (static / "fonts").mkdir()
    (static / "css/app.css").write_text(f"h1 {{ color: {COLOURS[version]}; }}\n{_FILLER}")
    (static / "js/module.js").write_text(
        'document.getElementById("module").textContent = "module ran";\n'
    )
    fonts = sorted(Path("/usr/share/fonts").glob("**/*.ttf"))
    if fonts:  # any real font: only its cross-origin load is tested
        shutil.copyfile(fonts[0], static / "fonts/test.ttf")
    cli = [sys.executable, "-m", "quart_cdn"]
    if kind == "checksum":
        manifest = root / "manifest.md5"
        subprocess.run([*cli, "manifest", str(static), "-o", str(manifest)], check=True)
    else:
        manifest = root / "manifest.json"
        flags = ["--gzip", "--brotli"] if compress else []
        subprocess.run([*cli, "digest", str(static), *flags, "-o", str(manifest)], check=True)
    return Build(version, static, manifest)


class Build:
    def __init__(self, version: int, static: Path, manifest: Path) -> None:
        self.version = version
        self.static = static
        self.manifest = manifest


class Instance:
    """One app instance (``_origin_app.py`` under uvicorn) serving ``build``."""

    def __init__(
        self, name: str, tmp: Path, port: int, build: Build, cdn_host: str, **settings: str
    ) -> None:
        self.name = name
        self.tmp = tmp
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.build = build
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "ORIGIN_STATIC": str(build.static),
            "ORIGIN_MANIFEST": str(build.manifest),
            "ORIGIN_INSTANCE": name,
            "CDN_DOMAIN": cdn_host,
            **settings,
        }
        self.process: Process | None = None

    def __enter__(self) -> Instance:
        self.tmp.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "_origin_app:app"]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        log = self.tmp / f"uvicorn-{self.name}-{self.build.version}.log"
        self.process = Process(f"instance {self.name}", args, log, env=self.env)
        try:
            with http_client() as client:
                wait_until(f"instance {self.name}", lambda: self._serving(client), timeout=20)
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


CDN_CONF = """\
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
    gzip off;

    upstream instances {{
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};
        # Static files: an origin-pull CDN that does what the origin's Cache-Control says
        # (and Vary), and otherwise keeps a 200 for an hour and a 404 for a minute, as
        # CloudFront's defaults do for responses without caching headers.
        location /static/ {{
            proxy_pass http://instances;
            proxy_http_version 1.1;
            proxy_cache cdn;
            proxy_cache_key $scheme$proxy_host$request_uri;
            proxy_cache_valid 200 1h;
            proxy_cache_valid 404 1m;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
        # Pages: passed through, never cached.
        location / {{
            proxy_pass http://instances;
            proxy_http_version 1.1;
        }}
    }}
}}
"""


class CDN:
    """nginx on a free port: pages and static files of ``upstreams`` (round robin)."""

    def __init__(self, executable: str, tmp: Path, upstreams: list[int]) -> None:
        self.executable = executable
        self.tmp = tmp
        self.upstreams = upstreams
        self.port = free_port()
        while self.port in upstreams:
            self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.process: Process | None = None

    def __enter__(self) -> CDN:
        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in self.upstreams)
        conf.write_text(CDN_CONF.format(user=user, tmp=self.tmp, port=self.port, servers=servers))
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
            self.process.stop(signal.SIGTERM)
            self.process = None
