#!/usr/bin/env bash
# Build the sdist and the wheel into dist/ and check them: twine's metadata and README
# rendering check (strict), and check-wheel-contents (no stray files, py.typed shipped
# inside the package, one top-level package).
#
# PYTHON chooses the interpreter whose environment has the 'package' extra
# (default: .venv/bin/python; set it up with: .venv/bin/pip install -e '.[package]').
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"

rm -rf dist
"$py" -m build --outdir dist .
"$py" -m twine check --strict dist/*
"$py" -m check_wheel_contents dist/*.whl
"$py" - <<'PY'
import sys
import zipfile
from pathlib import Path

(wheel,) = Path("dist").glob("*.whl")
names = set(zipfile.ZipFile(wheel).namelist())
missing = {"quart_cdn/py.typed", "quart_cdn/__version__.py"} - names
if missing:
    sys.exit(f"check-package: {wheel.name} lacks {', '.join(sorted(missing))}")
print(f"check-package: {wheel.name} ({len(names)} files) holds py.typed")
PY
ls -l dist
