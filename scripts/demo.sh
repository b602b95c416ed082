#!/usr/bin/env bash
# Quick start: a real push / clone / pull round trip through lfs-bridge and the `local` provider, in temp dirs.
# Installs what it needs (npm ci, git-lfs), builds, pushes three LFS files (one of 120 MB) with progress,
# clones them back with `lfs-bridge clone` and, after `lfs-bridge install`, a plain `git clone`, and verifies every
# byte. Your own git config is not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
node scripts/build-if-stale.mjs # builds when dist is missing or older than the sources
bridge="node $here/bin/run.js"

demo=$(mktemp -d "${TMPDIR:-/tmp}/lfs-bridge-demo.XXXXXX")
export HOME="$demo/home" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "lfs-bridge demo" && git config --global user.email demo@example.invalid
git config --global init.defaultBranch main
git lfs install --skip-repo >/dev/null
echo "== demo in $demo"

git init -q --bare "$demo/remote.git"
git init -q "$demo/work" && cd "$demo/work"
$bridge setup --provider local --root "$demo/store" --shared --max-rate 60MiB
git lfs track '*.bin' '*.psd' >/dev/null
head -c 120000000 /dev/urandom > scene.bin
head -c 3000000 /dev/urandom > texture.psd
echo "tiny but tracked" > note.bin
git add . && git commit -qm "assets"
git remote add origin "$demo/remote.git"
echo "== git push (objects go to $demo/store through lfs-bridge; rate-limited so you can watch the progress)"
git push origin main

echo "== lfs-bridge clone (clone with smudge skipped, setup from .lfs-bridge, git lfs pull)"
cd "$demo" && $bridge clone "$demo/remote.git" copy
for f in scene.bin texture.psd note.bin; do cmp "$demo/work/$f" "$demo/copy/$f"; done
(cd "$demo/copy" && git lfs fsck && $bridge status)
echo "== lfs-bridge install (into this demo's throwaway HOME), then a plain git clone"
$bridge install
git clone -q "$demo/remote.git" "$demo/plain"
for f in scene.bin texture.psd note.bin; do cmp "$demo/work/$f" "$demo/plain/$f"; done
echo "== OK: all files came back byte for byte. Store: $demo/store"
[ "${KEEP_DEMO:-}" ] || rm -rf "$demo"
