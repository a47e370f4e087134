"""The public names (the `__all__` check from httpx's test_exported_members.py)."""

from __future__ import annotations
import __future__

import importlib
import subprocess
import sys
import types

import pytest

import quart_cdn


def _public_names(module: types.ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        # Submodules bound by relative imports, and `from __future__ import annotations`.
        and not isinstance(value, (types.ModuleType, __future__._Feature))
    ]


def test_exported_members_all_equals_public_names() -> None:
    assert sorted(quart_cdn.__all__) == sorted(_public_names(quart_cdn))


def test_exported_members_all_is_sorted_without_duplicates() -> None:
    assert quart_cdn.__all__ == sorted(set(quart_cdn.__all__))


@pytest.mark.parametrize("name", quart_cdn.__all__)
def test_exported_members_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from quart_cdn import {name}", namespace)
    assert namespace[name] is getattr(quart_cdn, name)


@pytest.mark.parametrize(
    "name", [n for n in quart_cdn.__all__ if isinstance(getattr(quart_cdn, n), type)]
)
def test_exported_members_classes_defined_in_package(name: str) -> None:
    assert getattr(quart_cdn, name).__module__.startswith("quart_cdn.")


def test_exported_members_contract_names() -> None:
    for name in ["CDN", "url_for", "ManifestError", "NotInManifestError"]:
        assert name in quart_cdn.__all__
    assert importlib.import_module("quart_cdn").__version__ == quart_cdn.__version__


def test_exported_members_import_does_not_pull_in_starlette() -> None:
    """`import quart_cdn` stays free of the Starlette adapter and of Starlette itself."""
    code = (
        "import sys, quart_cdn\n"
        "loaded = sorted(m for m in sys.modules if m == 'starlette' or m.startswith('starlette.')"
        " or m == 'quart_cdn.starlette')\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_exported_members_starlette_adapter_does_not_import_quart() -> None:
    """`import quart_cdn.starlette` loads neither Quart nor the Quart extension."""
    code = (
        "import sys, quart_cdn.starlette\n"
        "print(sorted(m for m in sys.modules if m in ('quart', 'quart_cdn.extension')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_exported_members_quart_names_load_on_first_use() -> None:
    """`CDN` and `url_for` come from the extension module, imported when first asked for."""
    from quart_cdn import extension

    assert quart_cdn.CDN is extension.CDN
    assert quart_cdn.url_for is extension.url_for
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = quart_cdn.nothing
