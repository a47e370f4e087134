#!/usr/bin/env bash
# Rebuild tests/fixtures/bundlers/<build>/ from tests/fixtures/bundlers/frontend/ with the bundlers
# pinned in its package-lock.json. Needs node >= 20.19 and npm; fetches packages from the npm
# registry into a temporary directory (no node_modules in the repository). Not run by CI.
#
# After a rebuild, file hashes change only if a bundler or the sources changed; then update
# tests/fixtures/bundlers/expected.json by hand from the new manifests (see the README there).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fixtures="$repo/tests/fixtures/bundlers"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp -R "$fixtures/frontend/." "$work/"
cd "$work"
npm ci --no-audit --no-fund

npx vite build --config configs/vite.config.mjs
npx vite build --config configs/vite-spa.config.mjs
npx vite build --config configs/vite-sri.config.mjs
for build in webpack-auto webpack-static webpack-cdnurl webpack-assets encore encore-prefix; do
  npx webpack --config "configs/$build.config.cjs"
done
node configs/esbuild.config.mjs
mv dist out/esbuild

# Encore wrote out/encore*/static/ (its output path must end with its public path).
mv out/encore/static out/encore.tmp && rm -rf out/encore && mv out/encore.tmp out/encore
mv out/encore-prefix/static out/encore-prefix.tmp && rm -rf out/encore-prefix
mv out/encore-prefix.tmp out/encore-prefix

for build in vite vite-spa vite-sri webpack-auto webpack-static webpack-cdnurl webpack-assets \
  encore encore-prefix esbuild; do
  rm -rf "${fixtures:?}/$build"
  cp -R "out/$build" "$fixtures/$build"
done
echo "rebuilt: $(cd "$fixtures" && du -sh --exclude=frontend . | cut -f1)"
