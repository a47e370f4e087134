"""What ``quart-cdn digest --integrity`` and ``quart-cdn integrity`` write, read back by the
manifest parser and used by a Quart app: hashed URLs, and ``integrity`` on entry tags.

These need the parser to read ``{"src", "integrity"}`` values and Vite ``integrity`` fields
into the entry graph (issue 11's parser work); until it lands they fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from click.testing import CliRunner
from quart import Quart

from quart_cdn import CDN, entry_tags, parse_manifest, url_for
from quart_cdn._cli import main

CSS = b"h1 { color: blue; }\n"


def sri(data: bytes) -> str:
    return f"sha384-{base64.b64encode(hashlib.sha384(data).digest()).decode()}"


async def test_cli_digest_integrity_round_trip(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.css").write_bytes(CSS)
    result = CliRunner().invoke(main, ["digest", str(static), "--integrity"])
    assert result.exit_code == 0, result.output
    hashed = f"css/app.{hashlib.md5(CSS).hexdigest()[:8]}.css"

    manifest = parse_manifest((static / "manifest.json").read_bytes(), source="manifest.json")
    assert manifest["css/app.css"] == hashed
    assert manifest.entries.integrity[hashed] == sri(CSS)

    app = Quart(__name__, static_folder=str(static))
    app.config.update(
        CDN_DOMAIN="cdn.example.com",
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=str(static / "manifest.json"),
    )
    CDN(app)
    async with app.test_app(), app.test_request_context("/"):
        assert (
            url_for("static", filename="css/app.css") == f"http://cdn.example.com/static/{hashed}"
        )
        assert url_for("static", filename=hashed) == f"http://cdn.example.com/static/{hashed}"


async def test_cli_integrity_vite_round_trip(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    files = {
        "assets/main-a1.js": b"import './shared-b2.js'\n",
        "assets/shared-b2.js": b"export const x = 1\n",
        "assets/main-c3.css": b".main { color: red }\n",
    }
    for name, data in files.items():
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_bytes(data)
    vite = {
        "src/main.js": {
            "file": "assets/main-a1.js",
            "src": "src/main.js",
            "isEntry": True,
            "imports": ["_shared-b2.js"],
            "css": ["assets/main-c3.css"],
        },
        "_shared-b2.js": {"file": "assets/shared-b2.js"},
    }
    (dist / ".vite").mkdir()
    (dist / ".vite" / "manifest.json").write_text(json.dumps(vite))
    result = CliRunner().invoke(main, ["integrity", str(dist / ".vite" / "manifest.json")])
    assert result.exit_code == 0, result.output

    app = Quart(__name__, static_folder=str(dist), static_url_path="/static")
    app.config.update(
        CDN_DOMAIN="cdn.example.com",
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL=str(dist / ".vite" / "manifest.json"),
    )
    CDN(app)
    async with app.test_app(), app.test_request_context("/"):
        tags = entry_tags("src/main.js")
    for name, data in files.items():
        assert f'/static/{name}" integrity="{sri(data)}" crossorigin' in tags, name
