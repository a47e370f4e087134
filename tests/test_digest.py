"""The file logic behind the command line (quart_cdn._cli.digest and .files): hashed names,
the checksum manifest's escapes, which names a manifest can hold, atomic writes and the
plan of hashed copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quart_cdn._cli import digest as _digest
from quart_cdn._cli.files import write_atomic
from quart_cdn._manifest import parse_manifest


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("css/app.css", "css/app.0123abcd.css"),
        ("app.min.js", "app.min.0123abcd.js"),
        ("LICENSE", "LICENSE.0123abcd"),
        (".htaccess", ".htaccess.0123abcd"),
    ],
)
def test_hashed_name(name: str, hashed: str) -> None:
    assert _digest.hashed_name(name, "0123abcdef") == hashed


def test_checksum_manifest_escapes_like_md5sum() -> None:
    data = _digest.checksum_manifest({"a\\b\nc": "0" * 32, "z": "f" * 32}, url_path="static")
    assert data == b"\\" + b"0" * 32 + b"  static/a\\\\b\\nc\n" + b"f" * 32 + b"  static/z\n"
    assert parse_manifest(data)["static/a\\b\nc"] == "0" * 32


@pytest.mark.parametrize(
    ("name", "kind", "ok"),
    [
        ("a b.css", "mapping", True),
        ("a\\b.css", "mapping", False),
        ("a\\b.css", "checksum", True),
        ("a\rb.css", "checksum", False),
        ("a\u2028b.css", "checksum", False),
        ("a\udcffb.css", "checksum", False),
        ("x" * 2000, "checksum", False),
    ],
)
def test_name_problem(name: str, kind: str, ok: bool) -> None:
    assert (_digest.name_problem(name, kind=kind) is None) is ok


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary left


def test_plan_digest_recognises_its_own_copies(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_bytes(b"body{}")
    digest = _digest.file_digest(tmp_path / "app.css", "md5")
    copy = _digest.hashed_name("app.css", digest)
    (tmp_path / copy).write_bytes(b"body{}")
    plan = _digest.plan_digest(tmp_path, ["app.css", copy], "md5")
    assert plan.mapping() == {"app.css": copy}
