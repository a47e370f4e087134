"""JSON object manifests (quart_cdn._manifest.json): read once, a slice at a time, by ijson,
with the same result as json.loads of the whole text and the first problem as the error."""

from __future__ import annotations

import gc
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quart_cdn import Manifest, ManifestParseError, parse_manifest
from quart_cdn._manifest import Chunk, Entrypoint, _base, _steps
from quart_cdn._manifest._reader import MAX_DEPTH, MAX_LIST
from quart_cdn._manifest._sections import MAX_SECTION_DEPTH, MAX_SECTION_EVENTS
from quart_cdn._manifest.json import MAX_QUIET

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = "manifest.json"


def reference(text: str) -> dict[str, str]:
    """What the manifest must hold, from json.loads of the whole text."""
    data = json.loads(text)
    return {
        key.removeprefix("/"): (value["file"] if isinstance(value, dict) else value).removeprefix(
            "/"
        )
        for key, value in data.items()
    }


def error_of(data: bytes | str) -> str:
    with pytest.raises(ManifestParseError) as info:
        parse_manifest(data, source=SOURCE)
    return str(info.value)


@pytest.fixture(params=[7, 64, 64 * 1024], ids=["tiny", "small", "default"])
def slice_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Small slices make every token cross a slice's edge somewhere."""
    size: int = request.param
    monkeypatch.setattr(_base, "CHUNK_SIZE", size)
    return size


def names(count: int, *, prefix: str = "") -> dict[str, str]:
    return {
        f"{prefix}js/m{i:04}/c{i}.js": f"{prefix}js/m{i:04}/c{i}.{i:08x}.js" for i in range(count)
    }


LAYOUTS: dict[str, Callable[[dict[str, str]], str]] = {
    "indented": lambda d: json.dumps(d, indent=2),
    "crlf": lambda d: json.dumps(d, indent=2).replace("\n", "\r\n"),
    "minified": lambda d: json.dumps(d, separators=(",", ":")),
    "spaced-colons": lambda d: json.dumps(d, separators=(" , ", " : ")),
    "escaped": lambda d: json.dumps(d).replace("/", "\\/"),  # as PHP writes JSON
    "vite": lambda d: json.dumps({k: {"file": v, "src": k, "css": [v]} for k, v in d.items()}),
    "vite-one-line": lambda d: json.dumps({k: {"file": v, "isEntry": True} for k, v in d.items()}),
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("prefix", ["", "/"], ids=["plain", "leading-slash"])
def test_json_same_manifest_as_json_loads(slice_size: int, layout: Any, prefix: str) -> None:
    text = layout(names(300, prefix=prefix))
    manifest = parse_manifest(text, source=SOURCE)
    assert dict(manifest) == reference(text)
    assert list(manifest) == list(reference(text))  # the order of the text
    assert manifest.format == ("vite" if "file" in text else "json")


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ('  "bad": "../up.js"\n}', r"refused: value '\.\./up\.js' is not a relative path"),
        ('  "bad": 5\n}', r"entry 'bad' has value 5 of type int; expected a string$"),
        ('  "bad": {"file": "x.js"}\n}', r"has value \{\.\.\.\} of type dict; expected a string$"),
        ('  "a": "b",\n}', r"is not valid JSON: parse error: invalid object key"),
        ('  "a": "b"\n} extra', r"is not valid JSON: parse error: trailing garbage"),
        ('  "a": "b\\u0000"\n}', r"refused: value 'b\\x00' contains a control character"),
        ('  "a": "b"', r"is not valid JSON: parse error: premature EOF"),
    ],
    ids=["refused", "wrong-type", "vite-among-strings", "trailing-comma", "extra", "nul", "cut"],
)
def test_json_first_problem_is_the_error(slice_size: int, tail: str, message: str) -> None:
    text = json.dumps(names(200), indent=2)[:-2] + ",\n" + tail
    assert re.search(message, error_of(text))


def test_json_duplicate_key_last_wins(slice_size: int) -> None:
    text = json.dumps(names(200), indent=2)[:-2] + ',\n  "js/m0001/c1.js": "override.js"\n}'
    manifest = parse_manifest(text)
    assert manifest["js/m0001/c1.js"] == "override.js" and len(manifest) == 200


def test_json_invalid_json_says_where() -> None:
    with pytest.raises(ManifestParseError) as info:
        parse_manifest(b'{\n  "a": "b",\n  "c": "d",\n}\n', source=SOURCE)
    cause = info.value.__cause__
    assert isinstance(cause, json.JSONDecodeError)
    assert (cause.lineno, cause.colno, cause.pos) == (4, 1, 26)
    assert str(info.value).endswith(
        "invalid object key (must be a string): line 4 column 1 (char 26)"
    )


# -- shapes -------------------------------------------------------------------------------------


def test_json_vite_keeps_each_chunk() -> None:
    manifest = parse_manifest((FIXTURES / "vite-manifest.json").read_bytes(), source=SOURCE)
    assert manifest.chunk("src/main.js") == Chunk(
        "assets/main.4889e940.js",
        css=("assets/main.b82dbe22.css",),
        imports=("_shared-B7PI925R.js",),
        dynamic_imports=("src/lazy.js",),
        assets=("assets/logo.03d6d6da.png",),
        is_entry=True,
    )
    assert manifest.chunk("_shared-B7PI925R.js") == Chunk(
        "assets/shared-B7PI925R.js", css=("assets/shared-ChJ_j-JJ.css",)
    )
    assert manifest.chunk("src/logo.png") == Chunk("assets/logo.03d6d6da.png")
    assert manifest.chunk("nope.js") is None


def test_json_vite_integrity_and_chunks_take_part_in_equality() -> None:
    base = {"src/main.js": {"file": "assets/main.1.js", "integrity": "sha384-abc"}}
    manifest = parse_manifest(json.dumps(base))
    assert manifest.chunk("src/main.js") == Chunk("assets/main.1.js", integrity="sha384-abc")
    other = parse_manifest(json.dumps({"src/main.js": {"file": "assets/main.1.js"}}))
    assert dict(manifest) == dict(other) and manifest != other


def test_json_webpack_assets_manifest_src_and_integrity() -> None:
    data = {
        "main.js": {"src": "main.1a2b.js", "integrity": "sha384-xyz"},
        "main.css": {"src": "/main.3c4d.css", "integrity": "sha384-uvw"},
    }
    manifest = parse_manifest(json.dumps(data), source=SOURCE)
    assert manifest.format == "assets"
    assert dict(manifest) == {"main.js": "main.1a2b.js", "main.css": "main.3c4d.css"}
    assert manifest.chunk("main.css") == Chunk("main.3c4d.css", integrity="sha384-uvw")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a.js": {"inputs": {}}}, r"entry 'a\.js' is an object with neither 'file' .* nor 'src'"),
        (
            {"a.js": {"src": "a.1.js"}, "b.js": {"file": "b.js"}},
            r"webpack-assets-manifest's .*'src'",
        ),
        ({"a.js": {"file": "a.1.js"}, "b.js": "b.1.js"}, r"of type str; expected an object"),
        (
            {"a.js": {"file": "a.1.js", "css": "a.css"}},
            r"'css' 'a\.css' of type str; expected a list",
        ),
        ({"a.js": {"file": "a.1.js", "css": [1]}}, r"'css' holding 1 of type int; expected a list"),
        (
            {"a.js": {"file": "a.1.js", "isEntry": "yes"}},
            r"'isEntry' 'yes' of type str; expected true",
        ),
        ({"a.js": {"file": "a.1.js", "css": ["https://x/a.css"]}}, r"name in 'css' of 'a\.js'"),
    ],
)
def test_json_error_names_the_shape_it_found(data: dict[str, Any], message: str) -> None:
    error = error_of(json.dumps(data))
    assert re.search(message, error), error
    assert "Vite manifest" not in error or "file" in json.dumps(data)


def test_json_webpack_assets_manifest_entrypoints() -> None:
    """webpack-assets-manifest with ``entrypoints: true`` and ``integrity: true``."""
    data = {
        "main.js": {"src": "main.1a2b.js", "integrity": "sha384-A"},
        "main.css": {"src": "main.3c4d.css", "integrity": "sha384-B"},
        "runtime.js": {"src": "runtime.5e6f.js", "integrity": "sha384-C"},
        "entrypoints": {
            "main": {
                "assets": {"js": ["runtime.5e6f.js", "main.1a2b.js"], "css": ["main.3c4d.css"]}
            }
        },
    }
    manifest = parse_manifest(json.dumps(data), source=SOURCE)
    assert manifest.format == "assets" and "entrypoints" not in manifest
    assert dict(manifest.entrypoints) == {
        "main": Entrypoint(js=("runtime.5e6f.js", "main.1a2b.js"), css=("main.3c4d.css",))
    }
    assert manifest.integrity("main.1a2b.js") == "sha384-A"
    assert manifest.integrity("main.js") is None  # by file, not by name


def test_json_encore_entrypoints_json() -> None:
    """Symfony Encore's entrypoints.json: entries and an integrity map, no mapping."""
    data = {
        "entrypoints": {
            "app": {"js": ["/build/runtime.abc.js", "/build/app.def.js"], "css": ["/build/app.css"]}
        },
        "integrity": {"/build/app.def.js": "sha384-X"},
    }
    manifest = parse_manifest(json.dumps(data), source=SOURCE)
    assert manifest.format == "entrypoints" and len(manifest) == 0
    assert manifest.entrypoints["app"] == Entrypoint(
        js=("build/runtime.abc.js", "build/app.def.js"), css=("build/app.css",)
    )
    assert manifest.integrity("build/app.def.js") == "sha384-X"
    other = parse_manifest(json.dumps({**data, "integrity": {}}))
    assert manifest != other  # the hashes take part in equality


@pytest.mark.parametrize("first", [True, False], ids=["entrypoints-first", "entrypoints-last"])
def test_json_mapping_with_entrypoints(slice_size: int, first: bool) -> None:
    entries = names(100)
    section = {"entrypoints": {"main": {"assets": {"js": [f"x{i}.js" for i in range(50)]}}}}
    data = {**section, **entries} if first else {**entries, **section}
    manifest = parse_manifest(json.dumps(data, indent=2))
    assert manifest.format == "json" and dict(manifest) == entries
    assert manifest.entrypoints["main"].js == tuple(f"x{i}.js" for i in range(50))


def test_json_a_string_under_a_section_name_is_an_entry() -> None:
    manifest = parse_manifest(b'{"entrypoints": "entrypoints.1.json", "integrity": "i.2"}')
    assert dict(manifest) == {"entrypoints": "entrypoints.1.json", "integrity": "i.2"}
    assert not manifest.entrypoints


def test_json_vite_integrity_by_file() -> None:
    data = {"src/main.js": {"file": "assets/main.1.js", "integrity": "sha384-V"}}
    assert parse_manifest(json.dumps(data)).integrity("assets/main.1.js") == "sha384-V"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"entrypoints": {"app": {"js": ["https://evil/x.js"]}}}, r"file in entrypoint 'app'"),
        (
            {"entrypoints": {"app": {"js": "app.js"}}},
            r"'js' 'app\.js' of type str; expected a list",
        ),
        ({"entrypoints": {"app": ["app.js"]}}, r"entrypoint 'app' \[\.\.\.\] of type list"),
        ({"integrity": {"app.js": 5}}, r"'integrity' of 'app\.js' 5 of type int; expected an SRI"),
        ({"integrity": {"../app.js": "sha384-x"}}, r"refused: file in 'integrity' '\.\./app\.js'"),
        (
            {"entrypoints": {"a": {"js": [[[[[[["x"]]]]]]]}}},
            rf"'entrypoints' that is nested deeper than {MAX_SECTION_DEPTH}",
        ),
    ],
)
def test_json_sections_are_checked(section: dict[str, Any], message: str) -> None:
    error = error_of(json.dumps({"a.js": "a.1.js", **section}))
    assert re.search(message, error), error


# -- public paths -------------------------------------------------------------------------------

CDN_URLS = [
    "https://cdn.example.com/static/main.1a2b.js",
    "http://cdn.example.com/static/main.1a2b.js",
    "//cdn.example.com/static/main.1a2b.js",
    "HTTPS://CDN.Example.com/static/main.1a2b.js",
]


@pytest.mark.parametrize("value", CDN_URLS)
def test_json_value_written_as_a_cdn_url_is_read_as_its_path(value: str) -> None:
    manifest = parse_manifest(json.dumps({"main.js": value}), cdn="cdn.example.com")
    assert dict(manifest) == {"main.js": "static/main.1a2b.js"}


def test_json_cdn_url_under_a_path_prefix() -> None:
    data = {"main.js": "https://cdn.example.com/v2/static/main.1.js"}
    manifest = parse_manifest(json.dumps(data), cdn="cdn.example.com/v2")
    assert dict(manifest) == {"main.js": "static/main.1.js"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://other.example/static/main.1.js", "carries a URL scheme"),
        ("//other.example/static/main.1.js", "names another host"),
        ("https://cdn.example.com.evil/main.1.js", "carries a URL scheme"),
        ("https://cdn.example.comx/main.1.js", "carries a URL scheme"),
    ],
)
@pytest.mark.parametrize("cdn", ["cdn.example.com", None])
def test_json_other_url_refused_naming_the_bundler_setting(
    value: str, reason: str, cdn: str | None
) -> None:
    with pytest.raises(ManifestParseError) as info:
        parse_manifest(json.dumps({"main.js": value}), source=SOURCE, cdn=cdn)
    message = str(info.value)
    assert re.search(rf"refused: value .*{reason}; .*publicPath", message), message
    assert len(message) < 300


def test_json_cdn_urls_in_vite_and_entrypoints() -> None:
    url = "https://cdn.example.com/static/"
    data = {
        "src/main.js": {"file": url + "assets/main.1.js", "css": [url + "assets/main.2.css"]},
        "entrypoints": {"main": {"js": [url + "assets/main.1.js"]}},
    }
    manifest = parse_manifest(json.dumps(data), cdn="cdn.example.com")
    assert manifest["src/main.js"] == "static/assets/main.1.js"
    assert manifest.chunk("src/main.js") == Chunk(
        "static/assets/main.1.js", css=("static/assets/main.2.css",)
    )
    assert manifest.entrypoints["main"].js == ("static/assets/main.1.js",)


def test_json_many_cdn_urls_read_in_short_steps() -> None:
    entries = {
        f"js/c{i}.js": f"https://cdn.example.com/static/js/c{i}.{i:08x}.js" for i in range(20_000)
    }
    steps, worst = _steps(json.dumps(entries, indent=2).encode(), SOURCE, "cdn.example.com"), 0.0
    gc.collect()
    while True:
        started = time.thread_time()
        try:
            next(steps)
        except StopIteration as done:
            manifest = done.value
            break
        worst = max(worst, time.thread_time() - started)
    assert manifest["js/c7.js"] == "static/js/c7.00000007.js" and len(manifest) == 20_000
    assert worst < 0.025, f"a step took {worst * 1e3:.1f} ms of CPU"


def test_json_unknown_fields_are_skipped() -> None:
    data = {"a.js": {"file": "a.1.js", "x": {"y": [1, {"z": None}]}, "names": ["a"], "n": 1.5}}
    assert parse_manifest(json.dumps(data)) == Manifest({"a.js": "a.1.js"}, kind="mapping")


# -- hostile input ------------------------------------------------------------------------------

MB = 2_000_000

HOSTILE = {
    "huge-string": (b'{"a": "' + b"x" * MB + b'"}', r"refused: value 'xxx.*' is longer than 1024"),
    "huge-key": (b'{"' + b"k" * MB + b'": "v"}', r"refused: key 'kkk.*' is longer than 1024"),
    "huge-escapes": (b'{"a": "' + b'\\"' * MB + b'"}', r"refused: value .* is longer than 1024"),
    "huge-number": (b'{"a": ' + b"1" * MB + b"}", r"refused: value '111.*' is longer than"),
    "white-space": (b'{"a":' + b" " * MB + b'"b"}', rf"more than {MAX_QUIET} bytes of white"),
    "flat-array": (b"[" + b"0," * MB + b"0]", r"wrong shape: .* got list$"),
    "deep-array": (b"[" * MB, r"wrong shape: .* got list$"),
    "deep-entry": (b'{"a": {"file": "a.js", "x": ' + b"[" * MB, rf"deeper than {MAX_DEPTH}"),
    "wide-entry": (b'{"a": {"file": "a.js", "x": [' + b"[]," * MB + b"[]]}}", r"more than 10,000"),
    "long-list": (
        b'{"a": {"file": "a.js", "css": [' + b'"a.css",' * MB + b'"a.css"]}}',
        rf"more than {MAX_LIST:,} names in 'css'",
    ),
    "huge-section": (
        b'{"entrypoints": {"a": {"js": [' + b'"a.js",' * MB + b'"a.js"]}}}',
        rf"has 'entrypoints' that has more than {MAX_SECTION_EVENTS:,} values",
    ),
    "many-entries": (
        b"{" + b",".join(b'"%x":"a"' % i for i in range(MB // 4)) + b"}",
        r"more than 250,000 entries",
    ),
}


def worst_step(data: bytes) -> tuple[float, BaseException | Manifest]:
    """The most CPU time (of this thread: other processes do not count) that one step of
    the parser took, and what it gave. A full collection first: the first burst of
    allocations after many others may set one off, whoever makes it."""
    gc.collect()
    steps, worst = _steps(data, SOURCE), 0.0
    while True:
        started = time.thread_time()
        try:
            next(steps)
        except StopIteration as done:
            return max(worst, time.thread_time() - started), done.value
        except ManifestParseError as exc:
            return max(worst, time.thread_time() - started), exc
        worst = max(worst, time.thread_time() - started)


@pytest.mark.parametrize(("data", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_json_hostile_input_refused_in_short_steps(data: bytes, message: str) -> None:
    """Every step stays short (the old reader held the loop 0.07-3.3 s on such input), and the
    message small."""
    worst, result = worst_step(data)
    assert isinstance(result, ManifestParseError)
    assert re.search(message, str(result)), str(result)
    assert len(str(result)) < 300
    assert worst < 0.025, f"a step took {worst * 1e3:.1f} ms of CPU"


def test_json_large_section_read_in_short_steps() -> None:
    files = [f"js/chunk-{i}.{i:08x}.js" for i in range(100_000)]
    data = json.dumps({"entrypoints": {"main": {"js": files}}}).encode()
    worst, result = worst_step(data)
    assert isinstance(result, Manifest) and result.entrypoints["main"].js == tuple(files)
    assert worst < 0.025, f"a step took {worst * 1e3:.1f} ms of CPU"


@pytest.mark.parametrize("bad", [b",", b', "bad": 5', b', "bad": "../x.js"'])
def test_json_large_manifest_with_a_bad_end_in_short_steps(bad: bytes) -> None:
    """A bad entry at the end is found in the same pass: no second reading of the text."""
    text = json.dumps(names(20_000), indent=2).encode()
    worst, result = worst_step(text[:-2] + bad + b"\n}")
    assert isinstance(result, ManifestParseError)
    assert worst < 0.025, f"a step took {worst * 1e3:.1f} ms of CPU"
