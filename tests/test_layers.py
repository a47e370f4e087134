"""The house's rules, checked: the framework-free core imports neither Quart nor Starlette,
and every module imports on its own (no import circle needs a particular order)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import quart_cdn

#: The adapters and their glue: the only places that may import a framework.
ADAPTERS = (
    "quart_cdn.extension",
    "quart_cdn.starlette",
    "quart_cdn._quart",
    "quart_cdn._starlette",
)
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(quart_cdn.__path__, "quart_cdn.")
    if info.name != "quart_cdn.__main__"
)
CORE = [m for m in MODULES if not m.startswith(ADAPTERS)]


def _loaded_after_import(module: str) -> list[str]:
    code = (
        f"import sys, {module}\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'quart', 'starlette'})))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_layers_core_modules_are_known() -> None:
    assert "quart_cdn._core" in CORE and "quart_cdn._manifest._names" in CORE
    assert not any(m.startswith(ADAPTERS) for m in CORE)


@pytest.mark.parametrize("module", CORE)
def test_layers_core_module_imports_no_framework(module: str) -> None:
    """Each core module, imported first and alone, loads neither Quart nor Starlette."""
    assert _loaded_after_import(module) == []
