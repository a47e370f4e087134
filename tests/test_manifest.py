"""The manifest parser and the immutable Manifest mapping (quart_cdn._manifest)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from quart_cdn import Manifest, ManifestParseError, _manifest, parse_manifest
from quart_cdn._manifest import CHUNK_SIZE, MAX_ENTRY_LENGTH, parse_manifest_async

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = "https://example.com/manifest"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _parse_error(data: bytes | str, source: str | None = SOURCE) -> ManifestParseError:
    with pytest.raises(ManifestParseError) as info:
        parse_manifest(data, source=source)
    return info.value


# -- the three formats, from checked-in samples ---------------------------------------------


def test_manifest_md5sum_fixture_gives_checksums_keyed_by_url_path() -> None:
    manifest = parse_manifest(_fixture("md5sums.txt"), source="md5sums.txt")
    assert manifest.kind == "checksum"
    assert manifest.format == "checksum"
    assert manifest.source == "md5sums.txt"
    assert dict(manifest) == {
        "static/js/app.js": "d0da5574e9ec939fa12caeba50280652",
        "static/css/site.css": "425131771d91cca1198d0ac06c3bfb03",
        "static/img/my logo.png": "55505ba281b015ec31f03ccb151b2a34",
        "admin/static/x.js": "e2ebd7ddedcadeeadbf819c35985c768",
        # md5sum wrote this line as "\a1a7...  static/js/odd\\name.js".
        "static/js/odd\\name.js": "a1a740e5f7e4a21557f2fc05c502c552",
    }


def test_manifest_sha256sum_binary_mode_fixture() -> None:
    """`sha256sum -b` prints `<hex> *<path>`; the `*` is not part of the path."""
    manifest = parse_manifest(_fixture("sha256sums.txt"), source="sha256sums.txt")
    assert manifest.kind == "checksum"
    assert sorted(manifest) == [
        "admin/static/x.js",
        "static/css/site.css",
        "static/img/my logo.png",
        "static/js/app.js",
    ]
    assert manifest["static/js/app.js"] == (
        "6f4c113f597494422a7a98c570a40307c74039f30cf5d7cb7bcfa1b5ed50c178"
    )


def test_manifest_webpack_fixture_gives_mapping() -> None:
    data = _fixture("webpack-manifest.json")
    manifest = parse_manifest(data, source="webpack-manifest.json")
    assert manifest.kind == "mapping"
    assert manifest.format == "json"
    assert dict(manifest) == json.loads(data)
    assert manifest["js/app.js"] == "js/app.7bfe0aac.js"


def test_manifest_vite_fixture_maps_each_entry_to_its_file() -> None:
    data = _fixture("vite-manifest.json")
    manifest = parse_manifest(data, source="vite-manifest.json")
    assert manifest.kind == "mapping"
    assert manifest.format == "vite"
    assert dict(manifest) == {key: entry["file"] for key, entry in json.loads(data).items()}
    assert manifest["src/main.js"] == "assets/main.4889e940.js"
    assert manifest["_shared-B7PI925R.js"] == "assets/shared-B7PI925R.js"


@pytest.mark.parametrize(
    ("line", "path", "checksum"),
    [
        ("0123456789abcdef  static/js/app.js", "static/js/app.js", "0123456789abcdef"),
        ("0123456789abcdef *static/js/app.js", "static/js/app.js", "0123456789abcdef"),
        ("0123456789ABCDEF  static/a.js", "static/a.js", "0123456789abcdef"),
        ("deadbeef  static/x.js", "static/x.js", "deadbeef"),
        ("deadbeef  static/my file name.js", "static/my file name.js", "deadbeef"),
        ("deadbeef  /static/x.js", "static/x.js", "deadbeef"),
        ("deadbeef  ./static/x.js", "static/x.js", "deadbeef"),
        ("\\deadbeef  static/a\\\\b.js", "static/a\\b.js", "deadbeef"),
        ("\\deadbeef  static/new\\nline.js", "static/new\nline.js", "deadbeef"),
        ("deadbeef  static/a\\\\b.js", "static/a\\\\b.js", "deadbeef"),
    ],
    ids=[
        "md5sum",
        "binary-mode",
        "upper-case-hex",
        "eight-digits",
        "spaces",
        "leading-slash",
        "leading-dot-slash",
        "escaped-backslash",
        "escaped-newline",
        "unescaped-line-keeps-backslashes",
    ],
)
def test_manifest_checksum_line_forms(line: str, path: str, checksum: str) -> None:
    assert dict(parse_manifest(line + "\n")) == {path: checksum}


def test_manifest_checksum_real_md5sum_escapes() -> None:
    """What md5sum prints for names holding a backslash or a newline reads back as those names."""
    text = (
        "\\9dd4e461268c8034f5c8564e155c67a6  static/back\\\\slash.js\n"
        "\\415290769594460e2e485922904f345d  static/new\\nline.js\n"
    )
    assert dict(parse_manifest(text)) == {
        "static/back\\slash.js": "9dd4e461268c8034f5c8564e155c67a6",
        "static/new\nline.js": "415290769594460e2e485922904f345d",
    }


def test_manifest_checksum_lines_end_only_at_newline() -> None:
    """md5sum ends lines only at \\n: a \\f, \\x85 or U+2028 in a name stays in the path."""
    # Real `md5sum` output for a file named "static/e\ff.js" (form feed, not escaped by md5sum).
    text = "fbade9e36a3f36d3d676c1b808451dd7  static/e\x0cf.js\n"
    assert dict(parse_manifest(text)) == {"static/e\x0cf.js": "fbade9e36a3f36d3d676c1b808451dd7"}


def test_manifest_checksum_md5sum_carriage_return_escape() -> None:
    """coreutils 9 escapes a CR in a name as \\r."""
    # Real `md5sum` output for a file named "static/a\rb.js".
    text = "\\9dd4e461268c8034f5c8564e155c67a6  static/a\\rb.js\n"
    assert dict(parse_manifest(text)) == {"static/a\rb.js": "9dd4e461268c8034f5c8564e155c67a6"}


def test_manifest_checksum_blank_lines_are_skipped() -> None:
    text = "\n\ndeadbeef  static/a.js\n   \n\t\ncafebabe  static/b.js\n\n"
    assert dict(parse_manifest(text)) == {"static/a.js": "deadbeef", "static/b.js": "cafebabe"}


def test_manifest_checksum_crlf_line_endings() -> None:
    text = b"deadbeef  static/a.js\r\ncafebabe  static/b.js\r\n"
    assert dict(parse_manifest(text)) == {"static/a.js": "deadbeef", "static/b.js": "cafebabe"}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("not a checksum line\n", 1),
        ("deadbeef  static/a.js\nbad\nworse\n", 2),
        ("\n\ndeadbeef  static/a.js\n\nbad\n", 5),
        ("   \ndeadbeef  static/a.js\n\t\nbad", 4),
        ("deadbeef  static/a.js\r\n\r\nbad\r\n", 3),
        ("deadbee  static/a.js\n", 1),  # seven hex digits: too short for a checksum
        ("deadbeef static/a.js\n", 1),  # one space: md5sum always prints two characters
        ("deadbeef  static/a.js\ndeadbeef  \n", 2),  # no path
        ("deadbeef\tstatic/a.js\n", 1),
        ("\ufeffdeadbeef  static/a.js\nnope\n", 2),
    ],
    ids=[
        "first",
        "second",
        "blank-lines-counted",
        "whitespace-lines-counted",
        "crlf",
        "short-hex",
        "single-space",
        "empty-path",
        "tab",
        "after-bom",
    ],
)
def test_manifest_checksum_error_names_first_bad_line(text: str, line: int) -> None:
    error = _parse_error(text)
    assert error.line == line
    assert error.source == SOURCE
    assert re.search(
        rf"^Manifest '{re.escape(SOURCE)}' line {line} is not a checksum line", str(error)
    )


def test_manifest_checksum_over_long_path_refused() -> None:
    text = "deadbeef  ok.js\ndeadbeef  " + "a" * (MAX_ENTRY_LENGTH + 1) + "\n"
    with pytest.raises(ManifestParseError, match=r"line 2 has an empty or over-long path") as info:
        parse_manifest(text, source=SOURCE)
    assert info.value.line == 2


# -- encodings and empty input ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'\xef\xbb\xbf{"js/app.js": "js/app.1.js"}',
        '\ufeff{"js/app.js": "js/app.1.js"}',
        b'{"js/app.js": "js/app.1.js"}',
    ],
    ids=["bom-bytes", "bom-str", "no-bom"],
)
def test_manifest_bom_accepted(data: bytes | str) -> None:
    assert dict(parse_manifest(data)) == {"js/app.js": "js/app.1.js"}


def test_manifest_bom_accepted_for_checksums() -> None:
    data = b"\xef\xbb\xbfdeadbeef  static/a.js\n"
    assert dict(parse_manifest(data)) == {"static/a.js": "deadbeef"}


@pytest.mark.parametrize(
    "data", [b"\xff\xfe{}", b"deadbeef  static/\xe9.js\n", "{}".encode("utf-16")]
)
def test_manifest_not_utf8_refused(data: bytes) -> None:
    error = _parse_error(data)
    assert re.match(rf"Manifest '{re.escape(SOURCE)}' is not UTF-8 text", str(error))
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert error.line is None


@pytest.mark.parametrize("data", [b"", "", b"   ", b"\n\n\n", b" \t\r\n \n", b"\xef\xbb\xbf\n"])
def test_manifest_empty_or_whitespace_refused(data: bytes | str) -> None:
    with pytest.raises(ManifestParseError, match=rf"^Manifest '{re.escape(SOURCE)}' is empty$"):
        parse_manifest(data, source=SOURCE)


def test_manifest_error_without_source_still_reads() -> None:
    with pytest.raises(ManifestParseError, match=r"^Manifest is empty$") as info:
        parse_manifest(b"")
    assert info.value.source is None


# -- JSON shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b'{"js/app.js": ', b'{"a": "b",}', b"{'a': 'b'}", b'["unterminated', b'"x']
)
def test_manifest_invalid_json_refused(data: bytes) -> None:
    error = _parse_error(data)
    assert re.match(rf"Manifest '{re.escape(SOURCE)}' is not valid JSON: ", str(error))
    assert isinstance(error.__cause__, json.JSONDecodeError)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b'["js/app.js", "js/app.1.js"]', "list"),
        (b"42", "int"),
        (b"4.2", "float"),
        (b'"js/app.js"', "str"),
        (b"null", "NoneType"),
        (b"true", "bool"),
    ],
)
def test_manifest_json_wrong_shape_refused(data: bytes, kind: str) -> None:
    with pytest.raises(ManifestParseError, match=rf"is JSON of the wrong shape: .* got {kind}$"):
        parse_manifest(data, source=SOURCE)


def test_manifest_empty_json_object_refused() -> None:
    with pytest.raises(ManifestParseError, match=r"is an empty JSON object"):
        parse_manifest(b"{}", source=SOURCE)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ("1", "int"),
        ("null", "NoneType"),
        ("true", "bool"),
        ('["js/app.1.js"]', "list"),
        ('{"file": 3}', "int"),
        ('{"file": null}', "NoneType"),
    ],
)
def test_manifest_json_wrong_value_type_refused(value: str, type_name: str) -> None:
    data = f'{{"js/app.js": {value}}}'
    with pytest.raises(ManifestParseError, match=rf"of type {type_name}; expected a string$"):
        parse_manifest(data, source=SOURCE)


def test_manifest_json_mixed_strings_and_objects_refused() -> None:
    data = b'{"js/app.js": "js/app.1.js", "src/main.js": {"file": "assets/main.1.js"}}'
    with pytest.raises(ManifestParseError, match=r"of type dict; expected a string"):
        parse_manifest(data, source=SOURCE)


def test_manifest_vite_entry_without_file_refused() -> None:
    data = b'{"src/main.js": {"file": "assets/main.1.js"}, "src/b.js": {"css": ["b.css"]}}'
    with pytest.raises(
        ManifestParseError, match=r"looks like a Vite manifest but entry 'src/b.js' has no 'file'"
    ):
        parse_manifest(data, source=SOURCE)


# -- hostile mapping entries --------------------------------------------------------------

HOSTILE = {
    "absolute-url": ("https://evil.example/x.js", r"carries a URL scheme"),
    "protocol-relative": ("//evil.example/x.js", r"names another host"),
    "triple-slash": ("///evil.example/x.js", r"names another host"),
    "javascript-scheme": ("javascript:alert(1)", r"carries a URL scheme"),
    "parent-dirs": ("../../x.js", r"is not a relative path below the static folder"),
    "inner-parent": ("js/../../x.js", r"is not a relative path below the static folder"),
    "dot-segment": ("./x.js", r"is not a relative path below the static folder"),
    "empty-segment": ("js//x.js", r"is not a relative path below the static folder"),
    "empty": ("", r"is not a relative path below the static folder"),
    "only-slash": ("/", r"is not a relative path below the static folder"),
    "crlf": ("x.js\r\nSet-Cookie: a=b", r"contains a control character"),
    "nul": ("x\x00.js", r"contains a control character"),
    "del": ("x\x7f.js", r"contains a control character"),
    "c1-control": ("x\x85.js", r"contains a control character"),
    "query": ("x.js?v=1", r"'\?'"),
    "fragment": ("x.js#top", r"'#'"),
    "backslash": ("\\\\evil.example\\x.js", r"a backslash"),
    "over-long": ("a" * (MAX_ENTRY_LENGTH + 1), rf"is longer than {MAX_ENTRY_LENGTH} characters"),
}


@pytest.mark.parametrize("where", ["value", "key"])
@pytest.mark.parametrize(("name", "value", "reason"), [(k, *v) for k, v in HOSTILE.items()])
def test_manifest_hostile_mapping_entry_refused(
    name: str, value: str, reason: str, where: str
) -> None:
    entry = {value: "js/app.1.js"} if where == "key" else {"js/app.js": value}
    with pytest.raises(ManifestParseError, match=rf"^Manifest '.*' refused: {where} .*{reason}"):
        parse_manifest(json.dumps(entry), source=SOURCE)


@pytest.mark.parametrize("name", ["absolute-url", "protocol-relative", "parent-dirs", "crlf"])
def test_manifest_hostile_vite_file_refused(name: str) -> None:
    value, reason = HOSTILE[name]
    data = json.dumps({"src/main.js": {"file": value, "isEntry": True}})
    with pytest.raises(ManifestParseError, match=rf"refused: value .*{reason}"):
        parse_manifest(data, source=SOURCE)


def test_manifest_hostile_entry_message_is_shortened() -> None:
    error = _parse_error(json.dumps({"a.js": "b" * 5000}))
    assert len(str(error)) < 300
    assert "..." in str(error)


def test_manifest_longest_accepted_entry() -> None:
    value = "a" * MAX_ENTRY_LENGTH
    assert parse_manifest(json.dumps({"a.js": value})) == Manifest({"a.js": value}, kind="mapping")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"/js/app.js": "/js/app.1.js"}, {"js/app.js": "js/app.1.js"}),
        ({"static/js/app.js": "/static/js/app.1.js"}, {"static/js/app.js": "static/js/app.1.js"}),
        (
            {"/src/main.js": {"file": "/assets/main.1.js"}},
            {"src/main.js": "assets/main.1.js"},
        ),
    ],
    ids=["json", "json-with-url-path", "vite"],
)
def test_manifest_mapping_leading_slash_stripped(
    data: dict[str, Any], expected: dict[str, str]
) -> None:
    assert dict(parse_manifest(json.dumps(data))) == expected


# -- the Manifest object ------------------------------------------------------------------


@pytest.fixture
def manifest() -> Manifest:
    return parse_manifest(_fixture("webpack-manifest.json"), source="webpack-manifest.json")


@pytest.mark.parametrize("name", ["kind", "format", "source", "_entries", "anything"])
def test_manifest_setattr_raises(manifest: Manifest, name: str) -> None:
    with pytest.raises(AttributeError, match=rf"Manifest is immutable; cannot set '{name}'"):
        setattr(manifest, name, "x")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.__setitem__("js/app.js", "evil.js"),
        lambda m: m.__delitem__("js/app.js"),
        lambda m: m.update({"a": "b"}),
        lambda m: m.pop("js/app.js"),
        lambda m: m.clear(),
    ],
    ids=["setitem", "delitem", "update", "pop", "clear"],
)
def test_manifest_mapping_is_read_only(manifest: Manifest, mutate: Callable[[Any], object]) -> None:
    with pytest.raises((TypeError, AttributeError)):
        mutate(manifest)
    assert manifest["js/app.js"] == "js/app.7bfe0aac.js"


def test_manifest_copies_its_entries() -> None:
    entries = {"js/app.js": "js/app.1.js"}
    manifest = Manifest(entries, kind="mapping")
    entries["js/app.js"] = "evil.js"
    assert manifest["js/app.js"] == "js/app.1.js"


def test_manifest_mapping_protocol(manifest: Manifest) -> None:
    assert len(manifest) == 5
    assert "js/app.js" in manifest
    assert "nope.js" not in manifest
    assert manifest.get("nope.js") is None
    assert manifest.get("nope.js", "x") == "x"
    assert list(manifest)[0] == "js/app.js"
    with pytest.raises(KeyError):
        manifest["nope.js"]
    assert repr(manifest) == "<Manifest json with 5 entries from 'webpack-manifest.json'>"


def test_manifest_is_unhashable(manifest: Manifest) -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(manifest)


def test_manifest_equality() -> None:
    a = parse_manifest(b'{"js/app.js": "js/app.1.js"}', source="a.json")
    b = parse_manifest(b'  {"/js/app.js": "js/app.1.js"}\n', source="b.json")
    vite = parse_manifest(b'{"js/app.js": {"file": "js/app.1.js"}}')
    checksum = Manifest({"js/app.js": "js/app.1.js"}, kind="checksum")
    other = parse_manifest(b'{"js/app.js": "js/app.2.js"}')
    assert a == b  # the source and the spelling don't matter
    assert a == vite  # nor the format the same mapping was read from
    assert a != checksum
    assert a != other
    assert a != "not a manifest"


# -- parse_manifest_async -----------------------------------------------------------------


def _padded_checksums(size: int) -> bytes:
    lines = b"deadbeef  static/a.js\ncafebabe  static/b.js\n"
    return lines + b"\n" * max(0, size - len(lines))


@pytest.mark.parametrize(
    ("slice_seconds", "yields"), [(0.0, True), (3600.0, False)], ids=["slice-over", "in-one-go"]
)
async def test_manifest_parse_async_gives_the_loop_back_between_slices(
    monkeypatch: pytest.MonkeyPatch, slice_seconds: float, yields: bool
) -> None:
    """The parser lets other tasks run once a slice of time is used up, and only then."""
    data = _padded_checksums(4 * CHUNK_SIZE)
    monkeypatch.setattr(_manifest, "PARSE_SLICE", slice_seconds)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0)
        before = ticks
        manifest = await parse_manifest_async(data, source=SOURCE)
        during = ticks - before
        tg.cancel_scope.cancel()
    assert (during > 1) is yields
    assert manifest == parse_manifest(data) == parse_manifest(_padded_checksums(0))
    assert manifest.source == SOURCE


async def test_manifest_parse_async_large_json_equal_to_sync() -> None:
    entries = {f"js/chunk-{i}.js": f"js/chunk-{i}.{i:08x}.js" for i in range(3000)}
    data = json.dumps(entries, indent=2).encode()
    assert len(data) > 2 * CHUNK_SIZE  # read in several slices
    manifest = await parse_manifest_async(data)
    assert manifest == parse_manifest(data)
    assert dict(manifest) == entries


async def test_manifest_parse_async_error_after_several_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_manifest, "PARSE_SLICE", 0.0)
    data = _padded_checksums(4 * CHUNK_SIZE) + b"bad\n"
    with pytest.raises(ManifestParseError, match=r"line \d+ is not a checksum line") as info:
        await parse_manifest_async(data, source=SOURCE)
    assert info.value.line == data.count(b"\n")
