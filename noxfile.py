"""nox sessions: the test suite on every supported Python, the docs and the package checks.

    nox -s tests                       # 3.10, 3.11, 3.12 and 3.13 (those that are installed)
    nox -s tests-3.13 -- -m "not e2e"  # one version; arguments after -- go to pytest
    nox -s docs package                # scripts/docs.sh and scripts/check-package.sh

Interpreters are found as python3.10 ... python3.13 on PATH. With pyenv, whose shims answer
only for the versions it has selected, the installed 3.10-3.13 are selected for nox's
subprocesses (PYENV_VERSION), so no PATH needs changing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True


def _select_pyenv_versions() -> None:
    """Add the newest installed pyenv version of each of PYTHONS to PYENV_VERSION."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    run = subprocess.run(
        [pyenv, "versions", "--bare", "--skip-aliases"],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = run.stdout.split()
    chosen = []
    for minor in PYTHONS:
        patches = [v for v in installed if re.fullmatch(re.escape(minor) + r"\.\d+", v) is not None]
        if patches:
            chosen.append(max(patches, key=lambda v: int(v.rsplit(".", 1)[1])))
    if not chosen:
        return
    current = (
        os.environ.get("PYENV_VERSION")
        or subprocess.run(
            [pyenv, "version-name"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    selected = [v for v in current.split(":") if v] + chosen
    # The current version stays first, so plain python3 means what it meant.
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys(selected))


_select_pyenv_versions()


@nox.session(python=PYTHONS, venv_backend="venv")
def tests(session: nox.Session) -> None:
    """The test suite, with the package and its extras installed."""
    session.install("-e", ".[dev,starlette,s3]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11", venv_backend="venv")
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly and screenshot its front page."""
    session.install("-e", ".[docs]")
    session.run(
        "bash", "scripts/docs.sh", *session.posargs, env={"PYTHON": "python"}, external=True
    )


@nox.session(python="3.11", venv_backend="venv")
def package(session: nox.Session) -> None:
    """Build the sdist and the wheel and check them."""
    session.install(".[package]")
    session.run("bash", "scripts/check-package.sh", env={"PYTHON": "python"}, external=True)
