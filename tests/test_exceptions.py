"""The error hierarchy (quart_cdn.exceptions)."""

from __future__ import annotations

import pytest

import quart_cdn
import quart_cdn.exceptions as exceptions
from quart_cdn import (
    CDNError,
    CDNFileNotFoundInManifest,
    CDNManifestUrlError,
    ManifestError,
    ManifestLoadError,
    ManifestNotLoadedError,
    ManifestParseError,
    NotInManifestError,
    parse_manifest,
)


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (CDNError, (Exception,)),
        (ManifestError, (CDNError,)),
        (ManifestLoadError, (ManifestError, CDNError)),
        (ManifestParseError, (ManifestError, CDNError)),
        (ManifestNotLoadedError, (ManifestError, CDNError)),
        (NotInManifestError, (CDNError, LookupError)),
    ],
)
def test_exceptions_hierarchy(cls: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(cls, base)


def test_exceptions_not_in_manifest_is_not_a_manifest_error() -> None:
    """Strict-mode misses are a lookup failure, not a broken manifest."""
    assert not issubclass(NotInManifestError, ManifestError)


def test_exceptions_flask_cdn_ng_aliases() -> None:
    assert CDNManifestUrlError is ManifestError
    assert CDNFileNotFoundInManifest is NotInManifestError


@pytest.mark.parametrize("path", ["static/js/app.js", "admin/static/x y.css"])
def test_exceptions_not_in_manifest_message(path: str) -> None:
    error = NotInManifestError(path)
    assert str(error) == f"{path} not found in manifest"
    assert error.path == path
    with pytest.raises(CDNFileNotFoundInManifest, match=rf"^{path} not found in manifest$"):
        raise error


@pytest.mark.parametrize(
    "cls", [ManifestError, ManifestLoadError, ManifestParseError, ManifestNotLoadedError]
)
def test_exceptions_manifest_error_source(cls: type[ManifestError]) -> None:
    error = cls("Manifest 'm.json' is broken", source="m.json")
    assert error.source == "m.json"
    assert str(error) == "Manifest 'm.json' is broken"
    assert cls("no source").source is None
    with pytest.raises(CDNManifestUrlError, match=r"^Manifest 'm\.json' is broken$"):
        raise error


def test_exceptions_parse_error_line() -> None:
    assert ManifestParseError("x", source="s", line=3).line == 3
    assert ManifestParseError("x").line is None


def test_exceptions_parse_error_from_parser_carries_source_and_cause() -> None:
    with pytest.raises(ManifestParseError) as info:
        parse_manifest(b'{"a": ', source="https://example.com/m.json")
    assert info.value.source == "https://example.com/m.json"
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("name", exceptions.__all__)
def test_exceptions_exported_and_drawn_in_docstring(name: str) -> None:
    """Every error is importable from quart_cdn and appears in the module's hierarchy tree."""
    assert getattr(quart_cdn, name) is getattr(exceptions, name)
    assert exceptions.__doc__ is not None and name in exceptions.__doc__


def test_exceptions_all_lists_every_error() -> None:
    errors = {
        name
        for name, value in vars(exceptions).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert errors == set(exceptions.__all__)
