"""A site on disk (static files, a template, manifests of each format) and Quart apps over it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quart import Quart, render_template

from quart_cdn import CDN

__all__ = [
    "BAD_VARIANTS",
    "FILE",
    "FORMATS",
    "PAGE_FILES",
    "Site",
    "bad_manifest_bytes",
    "make_app",
    "make_site",
    "manifest_bytes",
]

FORMATS = ("checksum", "json", "vite")
#: The 50 static files the benchmark page links to; FILE is the one timed on its own.
PAGE_FILES = [f"css/page-{i:02}.css" for i in range(25)] + [f"js/page-{i:02}.js" for i in range(25)]
FILE = PAGE_FILES[0]
DOMAIN = "cdn.example.com"


def _filler(i: int) -> str:
    return f"js/module-{i:06d}/component-{i:06d}.js"


def _hashed(name: str, i: int, salt: int) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{(i * 2654435761 + salt) & 0xFFFFFFFF:08x}.{ext}"


def manifest_bytes(kind: str, entries: int, *, salt: int = 0) -> bytes:
    """A manifest of ``kind`` with ``entries`` entries: the page's files, then filler names.

    A different ``salt`` gives different versions for the same names (a new deploy).
    """
    names = PAGE_FILES + [_filler(i) for i in range(max(0, entries - len(PAGE_FILES)))]
    if kind == "checksum":
        lines = [
            f"{hashlib.md5(f'{name}{salt}'.encode()).hexdigest()}  static/{name}\n"
            for name in names
        ]
        return "".join(lines).encode()
    if kind == "json":
        return json.dumps({n: _hashed(n, i, salt) for i, n in enumerate(names)}, indent=2).encode()
    if kind == "vite":
        vite = {
            n: {"file": _hashed(n, i, salt), "src": n, "isEntry": i % 10 == 0}
            for i, n in enumerate(names)
        }
        return json.dumps(vite, indent=2).encode()
    raise ValueError(kind)


#: Ways to spoil a large manifest at its very end, per format: what a parser meets last.
BAD_VARIANTS: dict[str, tuple[str, ...]] = {
    "checksum": ("bad line at the end",),
    "json": ("trailing comma", "bad value at the end"),
    "vite": ("trailing comma", "bad value at the end"),
}


def bad_manifest_bytes(kind: str, entries: int, variant: str) -> bytes:
    """:func:`manifest_bytes` spoilt at the end as ``variant`` (one of BAD_VARIANTS[kind])."""
    data = manifest_bytes(kind, entries)
    if kind == "checksum" and variant == "bad line at the end":
        return data + b"not a checksum line\n"
    if kind in ("json", "vite") and variant == "trailing comma":
        assert data.endswith(b"\n}")
        return data[:-2] + b",\n}"
    if kind in ("json", "vite") and variant == "bad value at the end":
        bad = b'"bad": 5' if kind == "json" else b'"bad": {"file": 5}'
        return data[:-2] + b",\n  " + bad + b"\n}"
    raise ValueError((kind, variant))


@dataclass(frozen=True)
class Site:
    root: Path
    static: Path
    templates: Path

    def manifest(self, kind: str) -> Path:
        return self.root / f"manifest-{kind}.txt"


PAGE = (
    "<!doctype html>\n<title>bench</title>\n"
    + "".join(
        f"<link rel=stylesheet href=\"{{{{ url_for('static', filename='{f}') }}}}\">\n"
        if f.endswith(".css")
        else f"<script src=\"{{{{ url_for('static', filename='{f}') }}}}\"></script>\n"
        for f in PAGE_FILES
    )
    + "<p>{{ title }}</p>\n"
)


def make_site(root: Path, *, entries: int = 1000) -> Site:
    """Write the static files, ``page.html`` and a manifest of each format under ``root``."""
    site = Site(root, root / "static", root / "templates")
    for name in PAGE_FILES:
        path = site.static / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* {name} */\n")
    site.templates.mkdir(parents=True, exist_ok=True)
    (site.templates / "page.html").write_text(PAGE)
    for kind in FORMATS:
        write_atomically(site.manifest(kind), manifest_bytes(kind, entries))
    return site


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def make_app(site: Site, mode: str, **config: Any) -> Quart:
    """``mode``: ``plain`` (no extension), ``off`` (extension, no domain), ``timestamp``, or
    a manifest format. A manifest app still needs ``await cdn.refresh()`` or startup."""
    app = Quart(
        f"bench_{mode}",
        static_folder=str(site.static),
        template_folder=str(site.templates),
        root_path=str(site.root),
    )

    @app.route("/")
    async def index() -> str:
        return await render_template("page.html", title="bench")

    @app.route("/item/<int:id>")
    async def item(id: int) -> str:
        return str(id)

    if mode == "plain":
        return app
    if mode != "off":
        app.config["CDN_DOMAIN"] = DOMAIN
    if mode in FORMATS:
        app.config["CDN_MANIFEST"] = True
        app.config["CDN_MANIFEST_URL"] = str(site.manifest(mode))
    app.config.update(config)
    CDN(app)
    return app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop a server as Ctrl-C would (so it runs its shutdown), and kill it if it hangs."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
