#!/usr/bin/env bash
# Run the suite on the other supported Pythons (3.10, 3.12, 3.13) with nox, after the README's
# test command has set up .venv. Called by .ci/run; runs alone too: scripts/test-other-pythons.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end browser tests and the packaging test run on 3.11 and are left out here. With
# pyenv (as on this project's machines) every version must be there; elsewhere a missing one is
# skipped with a warning.
.venv/bin/pip install -q nox
.venv/bin/mypy --strict noxfile.py scripts/docs_hooks.py
missing_ok=()
if ! command -v pyenv >/dev/null 2>&1; then
    missing_ok=(--no-error-on-missing-interpreters)
    echo "warning: no pyenv; nox skips the Pythons that are not on PATH"
fi
nox_start=$(date +%s)
.venv/bin/nox "${missing_ok[@]}" -s tests-3.10 tests-3.12 tests-3.13 -- \
    -m "not e2e and not packaging" -p no:cacheprovider
echo "nox: $(($(date +%s) - nox_start)) s for 3.10, 3.12 and 3.13"
