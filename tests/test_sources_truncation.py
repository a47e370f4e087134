"""The seal that quart-cdn's commands put first in a manifest, and the last-newline rule:
any cut of a sealed manifest is refused, before the parser sees it."""

from __future__ import annotations

import json

import pytest

from quart_cdn import ManifestParseError, parse_manifest
from quart_cdn._cli.digest import mapping_manifest
from quart_cdn._sources.truncation import (
    TruncationError,
    check_integrity,
    check_last_line,
    seal_checksum_lines,
    seal_json,
    verify_seal,
)

LINES = b"".join(b"%016x  static/f%03d.js\n" % (i, i) for i in range(12))
MAPPING = mapping_manifest({f"js/f{i}.js": f"js/f{i}.{i:08x}.js" for i in range(12)})


@pytest.mark.parametrize(
    ("body", "sealed"),
    [(LINES, seal_checksum_lines(LINES)), (MAPPING, seal_json(MAPPING, entries=12))],
    ids=["checksum", "json"],
)
def test_seal_round_trip_and_every_cut_refused(body: bytes, sealed: bytes) -> None:
    assert verify_seal(sealed) == body
    assert check_integrity(sealed) == body
    for end in range(1, len(sealed)):
        cut = sealed[:end]
        if len(cut) < 16 and b'{"__quart_cdn__"'.startswith(cut) or cut == b"#":
            with pytest.raises(ManifestParseError):  # too short to be a seal: not JSON either
                parse_manifest(check_integrity(cut))
        else:
            with pytest.raises(TruncationError):
                check_integrity(cut)


def test_seal_json_is_json_with_the_seal_first() -> None:
    document = json.loads(seal_json(MAPPING, entries=12))
    assert list(document)[0] == "__quart_cdn__"
    assert document["__quart_cdn__"]["entries"] == 12
    empty = json.loads(seal_json(b"{}\n", entries=0))
    assert list(empty) == ["__quart_cdn__"] and empty["__quart_cdn__"]["entries"] == 0


def test_seal_mismatch_says_what_arrived() -> None:
    sealed = seal_checksum_lines(LINES)
    cut = sealed[: sealed.index(b"static/f005")]
    with pytest.raises(TruncationError, match=r"12 entries announced, 5 arrived, sha256 differs"):
        verify_seal(cut)


def test_seal_changed_byte_refused() -> None:
    sealed = bytearray(seal_checksum_lines(LINES))
    sealed[-5] ^= 1
    with pytest.raises(TruncationError, match=r"cut short or changed after quart-cdn wrote it"):
        verify_seal(bytes(sealed))


def test_malformed_seal_refused() -> None:
    with pytest.raises(TruncationError, match=r"starts with a malformed quart-cdn seal"):
        verify_seal(b"# quart-cdn manifest: many entries\n" + LINES)


@pytest.mark.parametrize("data", [LINES, MAPPING, b"", b"{}", b"42", b"\n\n"])
def test_unsealed_data_passes_unchanged(data: bytes) -> None:
    assert check_integrity(data) is data


@pytest.mark.parametrize(
    "tail",
    [b"0000000000000000  static/half", b"0000000000000000 ", b"\\0000000000000000  a\\\\b"],
)
def test_checksum_line_without_newline_refused(tail: bytes) -> None:
    with pytest.raises(TruncationError, match=r"ends in a line without a newline"):
        check_last_line(LINES + tail)


@pytest.mark.parametrize("tail", [b"   ", b"garbage", b"{", b"0000"])
def test_other_last_lines_are_left_to_the_parser(tail: bytes) -> None:
    check_last_line(LINES + tail)
