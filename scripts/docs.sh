#!/usr/bin/env bash
# Build the documentation site strictly into site/: a broken link or anchor, a missing API
# reference or a settings table out of step with quart_cdn._config.DEFAULTS fails the build.
# Then screenshot the built front page in headless Chromium, to check that it renders
# (skipped, with a message, where chromium is missing).
#
#   scripts/docs.sh [SCREENSHOT.png]
#
# PYTHON chooses the interpreter whose environment has the 'docs' extra
# (default: .venv/bin/python; set it up with: .venv/bin/pip install -e '.[docs]').
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"
shot="${1:-$(mktemp -d)/docs-front-page.png}"

start=$(date +%s)
NO_MKDOCS_2_WARNING=1 "$py" -m mkdocs build --strict --site-dir site
echo "docs: built strictly in $(($(date +%s) - start)) s into site/"

browser=""
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        browser="$name"
        break
    fi
done
if [ -z "$browser" ]; then
    echo "docs: no chromium on PATH; the screenshot of the front page is skipped"
    exit 0
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
rm -f "$shot"
# --no-sandbox: Chromium refuses to start as root without it (CI runs as root).
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size=1280,900 --virtual-time-budget=3000 \
    --screenshot="$shot" "file://$PWD/site/index.html" >/dev/null 2>&1 || true
"$py" - "$shot" <<'PY'
import struct
import sys

path = sys.argv[1]
try:
    with open(path, "rb") as f:
        data = f.read()
except OSError as exc:
    sys.exit(f"docs: chromium wrote no screenshot ({exc})")
if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 20_000:
    sys.exit(f"docs: {path} is not a rendered page ({len(data)} bytes)")
width, height = struct.unpack(">II", data[16:24])
print(f"docs: front page screenshot {path} ({width}x{height}, {len(data)} bytes)")
PY
