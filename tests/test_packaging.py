"""The built wheel, installed as a user would: into a new virtual environment, with its
dependencies from the package index, away from the source tree.

Slow (a build and an install, about a minute) and needs the package index: deselect with
``-m "not packaging"``.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Installed:
    """A wheel and the virtual environment it was installed into."""

    wheel: Path
    bin: Path
    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a program of the environment from an empty directory (so that the source
        tree's ``quart_cdn`` cannot be imported by accident)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "QUART_APP"}
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _check(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Build the wheel once and install it (with its dependencies) into a new venv."""
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, f"building the wheel failed:\n{build.stdout}\n{build.stderr}"
    (wheel,) = dist.glob("quart_cdn-*.whl")

    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    workdir = tmp_path_factory.mktemp("work")
    env = Installed(wheel=wheel, bin=bin_dir, workdir=workdir)
    _check(
        env.run(
            "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)
        )
    )
    yield env


def test_packaging_wheel_ships_py_typed_and_entry_points(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        (entry_points_name,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = wheel.read(entry_points_name).decode()
    assert "quart_cdn/py.typed" in names
    assert not [n for n in names if n.startswith("tests/") or n.endswith(".pyc")]
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert parser["console_scripts"]["quart-cdn"] == "quart_cdn._cli:main"
    assert parser["quart.commands"]["cdn"] == "quart_cdn._cli:main"


def test_packaging_imports_from_the_clean_venv(installed: Installed) -> None:
    """The package imports from site-packages, with its marker and a single-sourced version."""
    script = (
        "import importlib.metadata, importlib.resources, json, quart_cdn\n"
        "print(json.dumps({\n"
        "    'file': quart_cdn.__file__,\n"
        "    'version': quart_cdn.__version__,\n"
        "    'metadata': importlib.metadata.version('quart-cdn'),\n"
        "    'py_typed': importlib.resources.files('quart_cdn').joinpath('py.typed').is_file(),\n"
        "    'all': sorted(quart_cdn.__all__),\n"
        "}))\n"
    )
    found = json.loads(_check(installed.run("python", "-c", script)))
    assert "site-packages" in found["file"]
    assert not Path(found["file"]).is_relative_to(ROOT)
    assert found["py_typed"] is True
    assert {"CDN", "url_for", "ManifestError", "NotInManifestError"} <= set(found["all"])
    source = (ROOT / "quart_cdn" / "__version__.py").read_text(encoding="utf-8")
    assert f'__version__ = "{found["metadata"]}"' in source
    assert found["version"] == found["metadata"], (
        "quart_cdn.__version__ must be the one in quart_cdn/__version__.py, which the metadata "
        "is built from: import it from there in quart_cdn/__init__.py"
    )


def test_packaging_quart_cdn_command_help(installed: Installed) -> None:
    out = _check(installed.run("quart-cdn", "--help"))
    assert "manifest" in out
    assert "digest" in out
    assert "digest" in _check(installed.run("python", "-m", "quart_cdn", "--help"))


def test_packaging_quart_plugin_command_help(installed: Installed) -> None:
    """``quart cdn`` comes from the ``quart.commands`` entry point, with no app around."""
    assert "cdn" in _check(installed.run("quart", "--help"))
    out = _check(installed.run("quart", "cdn", "--help"))
    assert "manifest" in out
    assert "digest" in out


def test_packaging_starlette_adapter_names_its_extra(installed: Installed) -> None:
    """Without the ``starlette`` extra, the adapter's ImportError says what to install."""
    result = installed.run("python", "-c", "import quart_cdn.starlette")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "pip install 'quart-cdn[starlette]'" in result.stderr
