"""SRI hashes from the command line: ``quart-cdn digest --integrity`` and
``quart-cdn integrity`` (Vite manifests and JSON mappings), checked against hashes computed
here, and the messages of what they refuse."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from quart_cdn._cli import main

CSS = b"h1 { color: blue; }\n"
JS = b"console.log(1);\n"


def sri(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_digest_integrity_writes_src_and_sri(tmp_path: Path) -> None:
    static = write(tmp_path / "static", {"css/app.css": CSS, "js/app.js": JS})
    run("digest", str(static), "--integrity")
    written = json.loads((static / "manifest.json").read_text())
    md5 = hashlib.md5(CSS).hexdigest()[:8]
    assert written["css/app.css"] == {"src": f"css/app.{md5}.css", "integrity": sri(CSS)}
    assert written["js/app.js"]["integrity"] == sri(JS)
    assert (static / written["js/app.js"]["src"]).read_bytes() == JS
    # Again: its own manifest is recognised and left out, the copies are not hashed again.
    run("digest", str(static), "--integrity")
    assert json.loads((static / "manifest.json").read_text()) == written


VITE: dict[str, dict[str, Any]] = {
    "src/main.js": {
        "file": "assets/main-a1.js",
        "src": "src/main.js",
        "isEntry": True,
        "imports": ["_shared-b2.js"],
        "css": ["assets/main-c3.css"],
    },
    "_shared-b2.js": {
        "file": "assets/shared-b2.js",
        "css": ["assets/shared-d4.css"],
    },
    "_shared-d4.css": {"file": "assets/shared-d4.css", "src": "_shared-d4.css"},
}
VITE_FILES = {
    "assets/main-a1.js": b"import './shared-b2.js'\n",
    "assets/shared-b2.js": b"export const x = 1\n",
    "assets/main-c3.css": b".main { color: red }\n",
    "assets/shared-d4.css": b".shared { color: green }\n",
}


def test_cli_integrity_vite_manifest_in_place(tmp_path: Path) -> None:
    dist = write(tmp_path / "dist", VITE_FILES)
    manifest = dist / ".vite" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps(VITE))
    run("integrity", str(manifest))  # the root defaults to the parent of .vite/
    written = json.loads(manifest.read_text())
    assert written["src/main.js"] == {
        **VITE["src/main.js"],
        "integrity": sri(VITE_FILES["assets/main-a1.js"]),
    }
    assert written["_shared-d4.css"]["integrity"] == sri(VITE_FILES["assets/shared-d4.css"])
    # The entry's own CSS, listed only in "css", gets an entry as Vite writes shared CSS.
    assert written["_main-c3.css"] == {
        "file": "assets/main-c3.css",
        "src": "_main-c3.css",
        "integrity": sri(VITE_FILES["assets/main-c3.css"]),
    }
    assert len(written) == 4


def test_cli_integrity_mapping_with_public_path_to_stdout(tmp_path: Path) -> None:
    build = write(tmp_path / "build", {"js/main.1a.js": JS})
    manifest = build / "manifest.json"
    manifest.write_text(json.dumps({"main.js": "/static/js/main.1a.js"}))
    output = run(
        "integrity", str(manifest), "--public-path", "/static/", "--algorithm", "sha512", "-o", "-"
    )
    assert json.loads(output) == {
        "main.js": {"src": "/static/js/main.1a.js", "integrity": sri(JS, "sha512")}
    }
    assert json.loads(manifest.read_text()) == {"main.js": "/static/js/main.1a.js"}  # untouched


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"a.js": 5}', "entry 'a.js' is 5; expected a hashed file name"),
        ('{"a.js": "https://cdn.example.com/a.js"}', "give the bundler's public path"),
        ('{"a.js": "missing.js"}', "missing.js"),
        ("{nope", "cannot read"),
    ],
)
def test_cli_integrity_refuses(tmp_path: Path, content: str, message: str) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(content)
    result = CliRunner().invoke(main, ["integrity", str(manifest)])
    assert result.exit_code == 1
    assert message in result.output
    assert manifest.read_text() == content
