"""The windowed JSON reader (quart_cdn._jsonscan) gives what json.loads of the whole text
gives: the same manifest, or the same error, for any cut of the text into windows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from quart_cdn import ManifestParseError, _jsonscan, _manifest, parse_manifest
from quart_cdn._manifest import _check_relative, _parse_json

SOURCE = "manifest.json"


def whole(text: str) -> object:
    """What the parser that reads the whole text at once says: a manifest or a message."""
    try:
        manifest = _parse_json(text.strip(), SOURCE)
    except ManifestParseError as exc:
        return str(exc)
    return (manifest.format, list(manifest.items()))


def windowed(text: str) -> object:
    try:
        manifest = parse_manifest(text, source=SOURCE)
    except ManifestParseError as exc:
        return str(exc)
    return (manifest.format, list(manifest.items()))


@pytest.fixture(params=[7, 64, 16 * 1024], ids=["tiny", "small", "default"])
def window_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Small pieces and windows make every entry cross a window's edge somewhere."""
    size: int = request.param
    monkeypatch.setattr(_manifest, "CHUNK_SIZE", size)
    monkeypatch.setattr(_jsonscan, "CHUNK_SIZE", size)
    return size


def names(count: int, *, prefix: str = "") -> dict[str, str]:
    return {
        f"{prefix}js/m{i:04}/c{i}.js": f"{prefix}js/m{i:04}/c{i}.{i:08x}.js" for i in range(count)
    }


@pytest.mark.parametrize(
    "dumps",
    [
        lambda d: json.dumps(d, indent=2),
        lambda d: json.dumps(d, indent=2).replace("\n", "\r\n"),
        lambda d: json.dumps(d, separators=(",", ":")),  # minified: no line to cut at
        lambda d: json.dumps(
            {k: {"file": v, "src": k, "css": [v]} for k, v in d.items()}, indent=2
        ),
        lambda d: json.dumps({k: {"file": v, "isEntry": True} for k, v in d.items()}),
    ],
    ids=["indented", "crlf", "minified", "vite", "vite-one-line"],
)
@pytest.mark.parametrize("prefix", ["", "/"], ids=["plain", "leading-slash"])
def test_jsonscan_same_manifest_as_whole_text(window_size: int, dumps: Any, prefix: str) -> None:
    text = dumps(names(300, prefix=prefix))
    result = windowed(text)
    assert result == whole(text)
    assert not isinstance(result, str)


@pytest.mark.parametrize(
    "tail",
    [
        '  "bad": "../up.js"\n}',  # a refused name, late in the text
        '  "bad": 5\n}',  # a value of the wrong type
        '  "bad": {"file": "x.js"}\n}',  # a Vite entry among strings
        '  "a": "b",\n}',  # a trailing comma
        '  "a": "b"\n} extra',  # data after the object
        '  "a": "b\\u0000"\n}',  # an escaped control character
        '  "a": "b"',  # cut short
        '  "js/m0001/c1.js": "override.js"\n}',  # a duplicate key: the last one wins
    ],
)
def test_jsonscan_same_error_or_result_as_whole_text(window_size: int, tail: str) -> None:
    text = json.dumps(names(200), indent=2)[:-2] + ",\n" + tail
    assert windowed(text) == whole(text)


_ALPHABET = st.sampled_from(
    [*'ab./\\:?#%é \x00\x1f\x7f\x9f\xa0-+Z\n"', "//", "..", "./", "http:", "/.", "\u2028"]
)


@settings(max_examples=2000, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(st.lists(_ALPHABET, max_size=8).map("".join), min_size=1, max_size=6))
def test_jsonscan_usual_names_are_names_check_relative_keeps(names: list[str]) -> None:
    """What the bulk checks let through, the one-name check takes as it is."""

    def kept(name: str) -> bool:
        try:
            return _check_relative(name, "name", None) == name
        except ManifestParseError:
            return False

    if _jsonscan._usual_names(names):
        assert all(kept(name) for name in names)
    pairs = list(zip(names[::2], names[1::2], strict=False))
    members = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs)
    window = json.loads("{" + members + "}")
    every = [*window, *window.values()]
    if _jsonscan._usual_window(members, every, len(window)):
        assert all(kept(name) for name in every)
