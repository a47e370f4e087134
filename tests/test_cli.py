"""The command line (``python -m quart_cdn``, ``quart cdn``) and the file logic behind it."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner, Result

from quart_cdn._cli import _shell, digest as _digest, main
from quart_cdn._manifest import Manifest, parse_manifest as _parse_manifest
from quart_cdn._sources.truncation import verify_seal

CSS = b"body { color: red; }\n" * 40  # compresses well, so --gzip writes a sibling
MIT = b"MIT\n"
NEW = b"new\n"
TREE = {
    "css/app.css": CSS,
    "js/app.js": b"console.log('hi');\n",
    "img/logo.png": b"\x89PNG not really\n",
    "LICENSE": MIT,
}


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


@pytest.fixture
def static(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "static", TREE)


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def parse_manifest(data: bytes, *, source: str | None = None) -> Manifest:
    """What a source does with what the commands write: check and strip the seal, parse."""
    return _parse_manifest(verify_seal(data), source=source)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# manifest ---------------------------------------------------------------------------------


def test_manifest_round_trip(static: Path) -> None:
    result = run("manifest", static)
    manifest = parse_manifest((static / "manifest.txt").read_bytes(), source="manifest.txt")
    assert manifest.kind == "checksum"
    assert dict(manifest) == {f"static/{rel}": md5(data) for rel, data in TREE.items()}
    assert "Wrote 4 checksums" in result.stderr


def test_manifest_format_is_md5sum(static: Path) -> None:
    """Two spaces, sorted paths, one line each, a final newline: what md5sum prints."""
    text = run("manifest", static, "-o", "-").stdout
    seal, *lines = text.splitlines()
    assert re.fullmatch(r"# quart-cdn manifest: 4 entries, sha256 [0-9a-f]{64}", seal)
    assert lines == sorted(lines, key=lambda line: line.split("  ", 1)[1])
    assert lines[0] == f"{md5(MIT)}  static/LICENSE"
    assert text.endswith("\n")


@pytest.mark.skipif(shutil.which("md5sum") is None, reason="needs GNU md5sum")
def test_manifest_same_bytes_as_md5sum(tmp_path: Path) -> None:
    """Escapes included: a path with a backslash or a newline gets md5sum's leading '\\'."""
    names = ["a b.txt", "back\\slash.css", "new\nline.js", "café.css", "日本/語.js"]
    static = make_tree(tmp_path / "static", {n: n.encode() for n in names})
    paths = sorted(f"static/{n}" for n in names)
    expected = subprocess.run(["md5sum", *paths], cwd=tmp_path, capture_output=True, check=True)
    assert run("manifest", static, "--no-seal", "-o", "-").stdout_bytes == expected.stdout
    sealed = run("manifest", static, "-o", "-").stdout_bytes
    assert sealed.startswith(b"# quart-cdn manifest: 5 entries, sha256 ")
    assert sealed.split(b"\n", 1)[1] == expected.stdout
    assert set(parse_manifest(expected.stdout, source="md5sum")) == set(paths)


@pytest.mark.skipif(shutil.which("md5sum") is None, reason="needs GNU md5sum")
def test_manifest_sealed_passes_md5sum_check(static: Path) -> None:
    """md5sum -c skips the seal line as a comment and checks every file."""
    run("manifest", static, "--url-path", "", "-o", static / "sums.txt")
    done = subprocess.run(
        ["md5sum", "--check", "--strict", "sums.txt"], cwd=static, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(b": OK\n") == len(TREE)


def test_manifest_is_deterministic(static: Path, tmp_path: Path) -> None:
    run("manifest", static, "-o", tmp_path / "one.txt")
    run("manifest", static, "-o", tmp_path / "two.txt")
    run("manifest", static)
    run("manifest", static)  # the default output, STATIC_DIR/manifest.txt, is left out of itself
    assert (tmp_path / "one.txt").read_bytes() == (tmp_path / "two.txt").read_bytes()
    assert (static / "manifest.txt").read_bytes() == (tmp_path / "one.txt").read_bytes()


def test_manifest_algorithm_and_url_path(static: Path) -> None:
    out = run(
        "manifest", static, "--algorithm", "sha256", "--url-path", "/admin/static/", "-o", "-"
    )
    manifest = parse_manifest(out.stdout_bytes)
    assert manifest["admin/static/css/app.css"] == hashlib.sha256(CSS).hexdigest()
    bare = parse_manifest(run("manifest", static, "--url-path", "", "-o", "-").stdout_bytes)
    assert "css/app.css" in bare


def test_manifest_unicode_and_spaces(tmp_path: Path) -> None:
    files = {"café/naïve ☃.css": b"x", "with space/a b.js": b"y", "日本語.txt": b"z"}
    static = make_tree(tmp_path / "static", files)
    manifest = parse_manifest(run("manifest", static, "-o", "-").stdout_bytes)
    assert dict(manifest) == {f"static/{rel}": md5(data) for rel, data in files.items()}


def test_manifest_follows_symlinks_without_looping(static: Path, tmp_path: Path) -> None:
    shared = make_tree(tmp_path / "shared", {"vendor.js": b"v"})
    (static / "css" / "alias.css").symlink_to("app.css")
    (static / "shared").symlink_to(shared, target_is_directory=True)
    (static / "css" / "loop").symlink_to("..", target_is_directory=True)
    result = run("manifest", static, "-o", "-")
    manifest = parse_manifest(result.stdout_bytes)
    assert manifest["static/css/alias.css"] == md5(CSS)
    assert manifest["static/shared/vendor.js"] == md5(b"v")
    assert not any("loop" in key for key in manifest)
    assert "'css/loop/': a link to a directory that contains it" in result.stderr


def test_large_tree(tmp_path: Path) -> None:
    """2,100 files in 40 directories: every one listed, by both commands (speed is not
    asserted here: timings belong in benchmarks/, not in tests)."""
    files = {f"d{i % 40:02}/f{i:04}.txt": f"file {i}\n".encode() for i in range(2100)}
    static = make_tree(tmp_path / "static", files)
    for command in ("manifest", "digest"):
        run(command, static, "-o", tmp_path / command)
        assert len(parse_manifest((tmp_path / command).read_bytes())) == 2100


def test_progress_bar_goes_to_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a bar shown, stdout still holds nothing but the manifest."""
    monkeypatch.setattr(_shell, "show_progress", lambda count: True)
    static = make_tree(tmp_path / "static", {f"f{i}.txt": b"x" for i in range(300)})
    result = run("manifest", static, "-o", "-")
    assert len(parse_manifest(result.stdout_bytes)) == 300
    assert "Hashing" in result.stderr and "Hashing" not in result.stdout


def test_no_progress_bar_for_a_pipe(static: Path) -> None:
    assert not _shell.show_progress(10_000)  # CliRunner's stderr is no tty


def test_unreadable_file_is_named(static: Path, tmp_path: Path) -> None:
    secret = static / "css" / "secret.css"
    secret.write_bytes(b"s")
    secret.chmod(0)
    try:
        if os.access(secret, os.R_OK):
            pytest.skip("running as root: a mode of 000 does not stop reading")
        result = run("manifest", static, "-o", tmp_path / "m.txt", code=1)
    finally:
        secret.chmod(0o644)
    assert "cannot read" in result.stderr and "secret.css" in result.stderr
    assert "Permission denied" in result.stderr
    assert not (tmp_path / "m.txt").exists()


def test_read_error_is_named_even_as_root(
    static: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path as chmod 000, with the refusal simulated so that root runs it too."""

    def refuse(file: Path, mode: str = "r") -> IO[bytes]:
        if Path(file).name == "app.js":
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, mode)

    monkeypatch.setattr(_digest, "open", refuse, raising=False)
    result = run("manifest", static, "-o", tmp_path / "m.txt", code=1)
    assert f"Error: cannot read '{static / 'js' / 'app.js'}': Permission denied" in result.stderr
    assert not (tmp_path / "m.txt").exists()


@pytest.mark.parametrize("command", ["manifest", "digest"])
def test_dangling_link_is_named(static: Path, command: str) -> None:
    (static / "gone.js").symlink_to("nowhere.js")
    result = run(command, static, code=1)
    assert "cannot read" in result.stderr and "gone.js" in result.stderr
    assert not (static / "manifest.txt").exists() and not (static / "manifest.json").exists()


@pytest.mark.parametrize("command", ["manifest", "digest"])
def test_missing_or_non_directory_is_usage_error(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "no-such-static"
    result = run(command, missing, code=2)
    assert str(missing) in result.stderr and "does not exist" in result.stderr
    (tmp_path / "file").write_text("x")
    assert str(tmp_path / "file") in run(command, tmp_path / "file", code=2).stderr


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    assert "no files" in run("manifest", tmp_path / "static", code=1).stderr


def test_output_directory_missing_is_an_error(static: Path, tmp_path: Path) -> None:
    result = run("manifest", static, "-o", tmp_path / "nope" / "m.txt", code=1)
    assert "cannot write" in result.stderr and "m.txt" in result.stderr


def test_output_keeps_existing_mode_and_leaves_no_temp_files(static: Path) -> None:
    run("manifest", static)
    (static / "manifest.txt").chmod(0o640)
    run("manifest", static)
    assert (static / "manifest.txt").stat().st_mode & 0o777 == 0o640
    assert not [p for p in static.rglob("*") if p.name.startswith(".quart-cdn-")]


# digest -----------------------------------------------------------------------------------


def test_digest_round_trip(static: Path) -> None:
    run("digest", static)
    raw = (static / "manifest.json").read_bytes()
    manifest = parse_manifest(raw, source="manifest.json")
    assert manifest.kind == "mapping"
    assert manifest["css/app.css"] == f"css/app.{md5(CSS)[:8]}.css"
    assert manifest["LICENSE"] == f"LICENSE.{md5(MIT)[:8]}"
    assert set(manifest) == set(TREE)
    for rel, hashed in manifest.items():
        assert (static / hashed).read_bytes() == (static / rel).read_bytes()
    assert list(json.loads(raw)) == ["__quart_cdn__", *sorted(TREE)]
    assert json.loads(raw)["__quart_cdn__"]["entries"] == len(TREE)


def test_digest_is_deterministic_and_skips_its_own_output(static: Path, tmp_path: Path) -> None:
    run("digest", static, "--gzip")
    first = (static / "manifest.json").read_bytes()
    listing = sorted(p.name for p in static.rglob("*"))
    again = run("digest", static, "--gzip")
    assert (static / "manifest.json").read_bytes() == first
    assert sorted(p.name for p in static.rglob("*")) == listing  # no app.<h>.<h>.css
    assert "Wrote 0 files" in again.stderr
    other = make_tree(tmp_path / "other", TREE)
    run("digest", other, "--gzip")
    assert (other / "manifest.json").read_bytes() == first
    gz = f"css/app.{md5(CSS)[:8]}.css.gz"
    assert (other / gz).read_bytes() == (static / gz).read_bytes()


def test_digest_and_manifest_leave_each_others_manifest_out(static: Path) -> None:
    """Neither command lists the manifest the other one wrote at its default place."""
    run("manifest", static)
    run("digest", static)
    mapping = parse_manifest((static / "manifest.json").read_bytes())
    assert "manifest.txt" not in mapping and set(mapping) == set(TREE)
    run("manifest", static)
    checksums = parse_manifest((static / "manifest.txt").read_bytes())
    assert not any(key.endswith(("manifest.json", "manifest.txt")) for key in checksums)


def test_digest_recognises_hashed_copies_by_round_trip(static: Path) -> None:
    """A stale copy (its original changed) and an older algorithm's copy are not hashed, but
    a name that merely looks hashed is."""
    run("digest", static)
    old = f"css/app.{md5(CSS)[:8]}.css"
    (static / "css" / "app.css").write_bytes(NEW)
    run("digest", static, "--algorithm", "sha1")
    (static / "vendor.deadbeef.js").write_bytes(b"not a copy of anything")
    manifest = parse_manifest(run("digest", static, "-o", "-").stdout_bytes)
    assert set(manifest) == {*TREE, "vendor.deadbeef.js"}  # not old, nor the sha1 copies
    assert manifest["css/app.css"] == f"css/app.{md5(NEW)[:8]}.css"
    assert manifest["vendor.deadbeef.js"].startswith("vendor.deadbeef.")
    assert (static / old).exists()


def test_digest_clean_removes_unreferenced_copies(static: Path) -> None:
    run("digest", static, "--gzip")
    old = static / "css" / f"app.{md5(CSS)[:8]}.css"
    assert old.exists() and Path(f"{old}.gz").exists()
    (static / "css" / "app.css").write_bytes(CSS + b"p {}\n")
    run("digest", static, "--gzip")
    assert old.exists()  # without --clean, old copies stay for pages still cached
    result = run("digest", static, "--gzip", "--clean")
    assert not old.exists() and not Path(f"{old}.gz").exists()
    manifest = parse_manifest((static / "manifest.json").read_bytes())
    assert all((static / hashed).exists() for hashed in manifest.values())
    assert all((static / rel).exists() for rel in TREE)
    assert "removed 2 stale files" in result.stderr


def test_digest_will_not_overwrite_a_web_app_manifest(static: Path) -> None:
    """A PWA's manifest.json at the default place is refused, unless -o names it."""
    pwa = b'{"name": "App", "icons": [{"src": "icon.png"}]}'
    (static / "manifest.json").write_bytes(pwa)
    result = run("digest", static, code=1)
    assert "manifest.json' exists and is not a mapping manifest" in result.stderr
    assert (static / "manifest.json").read_bytes() == pwa
    run("digest", static, "-o", static / "manifest.json")
    assert parse_manifest((static / "manifest.json").read_bytes()).kind == "mapping"


def test_digest_gzip_siblings(static: Path) -> None:
    run("digest", static, "--gzip")
    manifest = parse_manifest((static / "manifest.json").read_bytes())
    copy = static / manifest["css/app.css"]
    assert gzip.decompress(Path(f"{copy}.gz").read_bytes()) == CSS
    assert not Path(f"{static / manifest['img/logo.png']}.gz").exists()  # compressed already
    assert not Path(f"{static / manifest['LICENSE']}.gz").exists()  # would not be smaller


def test_digest_brotli_needs_the_module(static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)  # import brotli raises ImportError
    result = run("digest", static, "--brotli", code=1)
    assert "pip install brotli" in result.stderr
    assert not (static / "manifest.json").exists()


def test_digest_brotli_siblings(static: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("brotli")
    fake.compress = lambda data, quality: b"BR" + gzip.compress(data, mtime=0)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "brotli", fake)
    run("digest", static, "--brotli")
    manifest = parse_manifest((static / "manifest.json").read_bytes())
    assert Path(f"{static / manifest['css/app.css']}.br").read_bytes().startswith(b"BR")


def test_digest_unicode_spaces_and_symlinks(tmp_path: Path) -> None:
    files = {"café/naïve ☃.css": CSS, "with space/a b.js": b"y"}
    static = make_tree(tmp_path / "static", files)
    (static / "alias.css").symlink_to("café/naïve ☃.css")
    manifest = parse_manifest(run("digest", static, "-o", "-").stdout_bytes)
    assert manifest["café/naïve ☃.css"] == f"café/naïve ☃.{md5(CSS)[:8]}.css"
    assert manifest["with space/a b.js"] == f"with space/a b.{md5(b'y')[:8]}.js"
    alias = static / manifest["alias.css"]
    assert not alias.is_symlink() and alias.read_bytes() == CSS


def test_digest_skips_names_a_mapping_cannot_hold(static: Path) -> None:
    (static / "what?.css").write_bytes(b"q")
    result = run("digest", static)
    assert "skipped 'what?.css'" in result.stderr
    assert "what?.css" not in parse_manifest((static / "manifest.json").read_bytes())


# entry points ------------------------------------------------------------------------------


def test_help_texts_have_examples() -> None:
    for command in ([], ["manifest"], ["digest"]):
        assert "Examples:" in run(*command, "--help").stdout


def test_python_dash_m(static: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "quart_cdn", "manifest", str(static), "-o", "-"],
        capture_output=True,
        check=True,
    )
    assert len(parse_manifest(done.stdout)) == len(TREE)


def test_quart_cdn_plugin_command(static: Path) -> None:
    """``quart cdn ...`` through Quart's own discovery of the installed ``quart.commands``
    entry point (the package is installed, as the README's commands do)."""
    from quart import cli as quart_cli

    result = CliRunner().invoke(quart_cli.cli, ["cdn", "manifest", str(static), "-o", "-"])
    assert result.exit_code == 0, result.output
    assert len(parse_manifest(result.stdout_bytes)) == len(TREE)
