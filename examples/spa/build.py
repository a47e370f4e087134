"""Publish the front end: a stand-in for ``vite build`` with ``build.manifest: true``.

Every file under ``frontend/`` except the ``index.html`` template (which the app renders)
is copied into the publish folder under a content-hashed name, ``css/app.css`` becoming
``css/app.<8 hex>.css``, and ``manifest.json`` says so in Vite's format: the entry
``js/app.js`` with its hashed file and the CSS it needs, and every other file by name::

    {"js/app.js": {"file": "js/app.b41d07aa.js", "src": "js/app.js", "isEntry": true,
                   "css": ["css/app.3f9a1c2e.css"]}}

The app's template loads the whole entry with ``{{ entry_tags('js/app.js') }}``.

Each file is written to a temporary name and renamed into place (``os.replace``), and the
manifest is written last, so a reader (the app's refresh task, a CDN pulling from this
folder) sees either the old release or the new one, never half of one. Old hashed files are
never deleted: pages rendered before the switch, and browsers and CDN edges that cached
them, still reference them.

Usage::

    python examples/spa/build.py                      # into examples/spa/public/
    python examples/spa/build.py --public /srv/static # or $SPA_PUBLIC_DIR
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "frontend"
PUBLIC = HERE / "public"
TEMPLATE = "index.html"
MANIFEST = "manifest.json"
ENTRY = "js/app.js"


def hashed_name(logical: str, data: bytes) -> str:
    """``css/app.css`` -> ``css/app.<first 8 hex digits of its SHA-256>.css``."""
    digest = hashlib.sha256(data).hexdigest()[:8]
    stem, dot, ext = logical.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{logical}.{digest}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that no reader ever sees it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from a web server or a sync tool
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def build(source: Path = SOURCE, public: Path = PUBLIC) -> dict[str, str]:
    """Publish ``source`` into ``public``, write the Vite-shaped manifest, and return the
    hashed name of each logical one."""
    hashed: dict[str, str] = {}
    for path in sorted(source.rglob("*")):
        logical = path.relative_to(source).as_posix()
        if not path.is_file() or logical == TEMPLATE or path.name.startswith("."):
            continue
        data = path.read_bytes()
        name = hashed_name(logical, data)
        if not (public / name).exists():  # same name, same content: already published
            write_atomic(public / name, data)
        hashed[logical] = name
    css = [name for logical, name in hashed.items() if logical.endswith(".css")]
    manifest: dict[str, dict[str, object]] = {
        logical: {"file": name, "src": logical}
        for logical, name in hashed.items()
        if not logical.endswith(".css")
    }
    manifest[ENTRY].update(isEntry=True, css=css)
    body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    write_atomic(public / MANIFEST, body)  # last: it switches the release
    return hashed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="default: %(default)s")
    parser.add_argument(
        "--public",
        type=Path,
        default=Path(os.environ.get("SPA_PUBLIC_DIR", PUBLIC)),
        help="the publish folder, the app's static folder (default: $SPA_PUBLIC_DIR or "
        "%(default)s)",
    )
    args = parser.parse_args(argv)
    manifest = build(args.source, args.public)
    for logical, name in manifest.items():
        print(f"{logical} -> {args.public / name}")
    print(f"manifest: {args.public / MANIFEST}")


if __name__ == "__main__":
    main()
