"""The committed bundler fixtures (tests/fixtures/bundlers) are self-consistent.

These tests read no quart_cdn code. They check that every file a real manifest names is in its
build's directory, that every SRI hash a manifest carries matches the file's bytes, that every
CSS ``url(...)`` reaches a file, and that the hand-written oracle ``expected.json`` agrees with the
manifests and the trees. See tests/fixtures/bundlers/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BUNDLERS = Path(__file__).parent / "fixtures" / "bundlers"
EXPECTED: dict[str, Any] = json.loads((BUNDLERS / "expected.json").read_text("utf-8"))
BUILDS: dict[str, dict[str, Any]] = EXPECTED["builds"]

# What the app serves each build's directory as, and the CDN URL one build bakes in.
URL_PATH = "/static/"
CDN_URL = "https://cdn.example.com/static/"


def _json(build: str, name: str) -> Any:
    return json.loads((BUNDLERS / build / name).read_text("utf-8"))


def _files(build: str) -> set[str]:
    root = BUNDLERS / build
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _to_file(value: str) -> str:
    """A manifest value as a file name relative to the build's directory (public path removed)."""
    for prefix in (CDN_URL, URL_PATH):
        if value.startswith(prefix):
            return value[len(prefix) :]
    assert not value.startswith(("/", "http:", "https:")), value
    return value


def _check_sri(build: str, file: str, integrity: str) -> None:
    """Each space-separated ``<alg>-<base64>`` hash of ``integrity`` matches the file's bytes."""
    data = (BUNDLERS / build / file).read_bytes()
    hashes = integrity.split()
    assert hashes, (build, file)
    for item in hashes:
        algorithm, _, digest = item.partition("-")
        assert algorithm in {"sha256", "sha384", "sha512"}, item
        actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        assert actual == digest, f"{build}/{file}: {algorithm} mismatch"


def _referenced(build: str) -> set[str]:
    """Every file the build's own manifest(s) name, checked for existence and SRI on the way."""
    spec = BUILDS[build]
    files = _files(build)
    found: set[str] = set()
    manifest = _json(build, spec["manifest"])
    if spec["format"] == "vite":
        for key, chunk in manifest.items():
            found.add(chunk["file"])
            found.update(chunk.get("css", []))
            found.update(chunk.get("assets", []))
            for imported in chunk.get("imports", []) + chunk.get("dynamicImports", []):
                assert imported in manifest, (build, key, imported)
            if "integrity" in chunk:
                _check_sri(build, chunk["file"], chunk["integrity"])
    elif build == "esbuild":
        for output, meta in manifest["outputs"].items():
            assert output.startswith("dist/"), output
            found.add(output.removeprefix("dist/"))
            for imported in meta["imports"]:
                assert imported["path"].removeprefix("dist/") in files, imported
            if "cssBundle" in meta:
                assert meta["cssBundle"].removeprefix("dist/") in files
    else:
        for key, value in manifest.items():
            if key == "entrypoints":
                for entry in value.values():
                    for names in entry["assets"].values():
                        found.update(_to_file(name) for name in names)
            elif isinstance(value, dict):
                found.add(_to_file(value["src"]))
                _check_sri(build, _to_file(value["src"]), value["integrity"])
            else:
                found.add(_to_file(value))
    if "entrypoints" in spec:
        entrypoints = _json(build, spec["entrypoints"])
        for entry in entrypoints["entrypoints"].values():
            for names in entry.values():
                found.update(_to_file(name) for name in names)
        for url, integrity in entrypoints["integrity"].items():
            assert url.startswith(URL_PATH), url
            _check_sri(build, _to_file(url), integrity)
    missing = found - files
    assert not missing, f"{build}: manifest names files that are not there: {sorted(missing)}"
    return found


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_file_a_manifest_names_is_in_the_build(build: str) -> None:
    _referenced(build)


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_file_in_the_build_is_listed_or_known_unlisted(build: str) -> None:
    spec = BUILDS[build]
    known = _referenced(build) | set(spec["unlisted"]) | set(spec["other_files"])
    assert _files(build) == known


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_expected_names_existing_files_with_the_manifests_integrity(build: str) -> None:
    spec = BUILDS[build]
    files = _files(build)
    for name, entry in spec["entries"].items():
        seen: list[str] = []
        for kind in ("scripts", "styles", "preloads"):
            for asset in entry[kind]:
                assert asset["file"] in files, (build, name, asset)
                if asset["integrity"] is not None:
                    _check_sri(build, asset["file"], asset["integrity"])
                seen.append(asset["file"])
        assert len(seen) == len(set(seen)), (build, name, "a file listed twice")
        assert not set(seen) & set(spec["lazy"]), (build, name, "a lazy chunk in an entry")
        assert all(f.endswith(".js") for f in _kind(entry, "scripts", "preloads")), entry
        assert all(f.endswith(".css") for f in _kind(entry, "styles")), entry
    for name in spec["lazy"] + spec["unlisted"]:
        assert name in files, (build, name)
    for asked, served in spec["url_for"]:
        assert served in files, (build, asked, served)
    for name in spec["strict_refused"]:
        assert name not in files, (build, name)


def _kind(entry: dict[str, Any], *kinds: str) -> Iterator[str]:
    for kind in kinds:
        for asset in entry[kind]:
            yield str(asset["file"])


@pytest.mark.parametrize("build", ["webpack-assets", "encore", "encore-prefix"])
def test_webpack_entrypoints_in_expected_match_the_manifest(build: str) -> None:
    spec = BUILDS[build]
    source = _json(build, spec.get("entrypoints", spec["manifest"]))["entrypoints"]
    for name, entry in spec["entries"].items():
        files = source[name]["assets"] if build == "webpack-assets" else source[name]
        assert [_to_file(f) for f in files["js"]] == list(_kind(entry, "scripts"))
        assert [_to_file(f) for f in files["css"]] == list(_kind(entry, "styles"))


def _imported_chunks(manifest: dict[str, Any], key: str, chunks: list[str]) -> list[str]:
    """Keys of the chunks ``key`` imports statically, recursively, each once, dependencies first."""
    for imported in manifest[key].get("imports", []):
        if imported not in chunks:
            _imported_chunks(manifest, imported, chunks)
            chunks.append(imported)
    return chunks


@pytest.mark.parametrize("build", ["vite", "vite-sri", "vite-spa"])
def test_vite_entries_in_expected_follow_the_manifest(build: str) -> None:
    """Recomputed from the manifest: imported chunks' CSS (depth first) before the chunk's own."""
    manifest = _json(build, ".vite/manifest.json")
    spec = BUILDS[build]
    assert sorted(spec["entries"]) == sorted(k for k, v in manifest.items() if v.get("isEntry"))
    for name, entry in spec["entries"].items():
        chunks = _imported_chunks(manifest, name, [])
        styles: list[str] = []
        for key in [*chunks, name]:
            styles += [c for c in manifest[key].get("css", []) if c not in styles]
        assert list(_kind(entry, "scripts")) == [manifest[name]["file"]]
        assert list(_kind(entry, "styles")) == styles
        assert list(_kind(entry, "preloads")) == [manifest[k]["file"] for k in chunks]


def test_vite_spa_index_html_loads_what_the_manifest_says() -> None:
    html = (BUNDLERS / "vite-spa" / "index.html").read_text("utf-8")
    entry = BUILDS["vite-spa"]["entries"]["index.html"]
    for file in _kind(entry, "scripts", "styles", "preloads"):
        assert f'"{URL_PATH}{file}"' in html


def test_esbuild_entries_in_expected_follow_the_metafile() -> None:
    outputs = _json("esbuild", "meta.json")["outputs"]

    def imported(out: str, chunks: list[str]) -> list[str]:
        for item in outputs[out]["imports"]:
            if item["kind"] == "import-statement" and item["path"] not in chunks:
                imported(item["path"], chunks)
                chunks.append(item["path"])
        return chunks

    by_entry = {v["entryPoint"]: k for k, v in outputs.items() if "entryPoint" in v}
    for name, entry in BUILDS["esbuild"]["entries"].items():
        out = by_entry[name]
        assert list(_kind(entry, "scripts")) == [_to_file(out.removeprefix("dist/"))]
        assert list(_kind(entry, "styles")) == [outputs[out]["cssBundle"].removeprefix("dist/")]
        preloads = [c.removeprefix("dist/") for c in imported(out, [])]
        assert list(_kind(entry, "preloads")) == preloads


CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)[\"']?\s*\)")


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_css_url_reaches_a_file(build: str) -> None:
    files = _files(build)
    urls = 0
    for css in (f for f in files if f.endswith(".css")):
        text = (BUNDLERS / build / css).read_text("utf-8")
        for url in CSS_URL.findall(text):
            urls += 1
            if url.startswith(("/", "https:")):
                target = _to_file(url)
            else:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(css), url))
            assert target in files, (build, css, url)
    assert urls >= 2, build  # the png and the woff2


def test_the_fixture_set_is_small() -> None:
    total = sum(p.stat().st_size for p in BUNDLERS.rglob("*") if p.is_file())
    assert total < 1_000_000
