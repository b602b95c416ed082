#!/usr/bin/env bash
# Installs lfs-bridge the way the README's first install path does — `npm install -g <git url>` — from a clean
# clone of this checkout's HEAD (committed files only) into a temporary prefix, then uses the installed binary:
# `lfs-bridge --version`, and a push / `lfs-bridge clone` round trip through the `local` provider. Nothing outside
# the temporary folder is touched (npm's download cache aside). CI runs it: bash scripts/check-install.sh
# With --all, also the README's other two paths from the same clean clone: `npm ci && npm link`, and
# `npm pack && npm install -g ./lfs-bridge-<version>.tgz` (about a minute more).
set -euo pipefail
all=${1:-}
user_home=$HOME
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lfs-bridge-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
step() { echo "== $* ($((SECONDS - t0)) s)"; }

step "clean clone of HEAD"
git clone -q --no-local "$here" "$tmp/repo"

step "npm install -g --prefix <tmp> git+file://<clean clone>"
# npm installs the dev dependencies of a git dependency that has a `prepare` script, builds, packs, and installs
# the pack: the same path as `npm install -g git+https://…`.
npm install -g --prefix "$tmp/prefix" --no-fund --no-audit --loglevel=warn "git+file://$tmp/repo" >"$tmp/npm.log" 2>&1 ||
  { cat "$tmp/npm.log" >&2; echo "check-install: npm install -g failed" >&2; exit 1; }
# npm >= 11.19 says lfs-bridge's `prepare` is "not yet covered by allowScripts" (README, Install): that script is
# the build, which has run by then. Any other warning fails the check.
if grep -E '^npm (warn|WARN)' "$tmp/npm.log" | grep -vE '^npm warn install-scripts( |$)' >&2; then
  echo "check-install: npm printed warnings (above)" >&2
  exit 1
fi
if grep -E '^npm warn install-scripts   ' "$tmp/npm.log" | grep -v ' lfs-bridge@' >&2; then
  echo "check-install: npm skipped install scripts other than lfs-bridge's own (above)" >&2
  exit 1
fi
bin="$tmp/prefix/bin/lfs-bridge"
[ -x "$bin" ] || { echo "check-install: $bin was not installed" >&2; exit 1; }
[ ! -e "$tmp/prefix/lib/node_modules/lfs-bridge/src" ] || { echo "check-install: sources in the install" >&2; exit 1; }

step "lfs-bridge --version"
version=$("$bin" --version)
echo "$version"
want=$(node -p "require('$here/package.json').version")
case "$version" in "lfs-bridge/$want "*) ;; *) echo "check-install: want lfs-bridge/$want" >&2; exit 1 ;; esac

step "local round trip with the installed binary"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 PATH="$tmp/prefix/bin:$PATH"
for v in $(env | sed -n 's/^\(LFS_BRIDGE_[A-Z0-9_]*\|GIT_DIR\|GIT_WORK_TREE\)=.*/\1/p'); do unset "$v"; done
mkdir -p "$HOME"
git config --global user.name "lfs-bridge check" && git config --global user.email check@example.invalid
git config --global init.defaultBranch main
git lfs install --skip-repo >/dev/null
[ "$(command -v lfs-bridge)" = "$bin" ] || { echo "check-install: lfs-bridge on PATH is not the installed one" >&2; exit 1; }
git init -q --bare "$tmp/remote.git"
git init -q "$tmp/work" && cd "$tmp/work"
lfs-bridge setup --provider local --root "$tmp/store" --shared >/dev/null
agent=$(git config lfs.customtransfer.lfs-bridge.args)
case "$agent" in "$tmp/prefix/"*) ;; *) echo "check-install: the agent is not the installed one: $agent" >&2; exit 1 ;; esac
git lfs track '*.bin' >/dev/null
head -c 3000000 /dev/urandom >big.bin
echo "small but tracked" >small.bin
git add . && git commit -qm "assets"
git remote add origin "$tmp/remote.git"
git push -q origin main >/dev/null 2>"$tmp/push.log" || { cat "$tmp/push.log" >&2; exit 1; }
[ "$(find "$tmp/store" -type f -not -path '*/.lfs-bridge-incoming/*' | wc -l)" = 2 ] ||
  { echo "check-install: the store does not hold the 2 objects" >&2; exit 1; }
cd "$tmp" && lfs-bridge clone "$tmp/remote.git" copy >/dev/null 2>"$tmp/clone.log" || { cat "$tmp/clone.log" >&2; exit 1; }
for f in big.bin small.bin; do cmp "$tmp/work/$f" "$tmp/copy/$f"; done
step "OK: installed from git, --version and a local round trip work"

if [ "$all" = --all ]; then
  cd "$tmp/repo"
  export HOME="$user_home" # npm's own cache and settings again
  step "npm ci && npm link (in the clean clone)"
  npm ci --loglevel=error >/dev/null
  NPM_CONFIG_PREFIX="$tmp/linked" npm link --loglevel=error >/dev/null
  "$tmp/linked/bin/lfs-bridge" --version
  step "npm pack && npm install -g ./lfs-bridge-$want.tgz"
  npm pack --loglevel=error >/dev/null
  npm install -g --prefix "$tmp/packed" --loglevel=error "./lfs-bridge-$want.tgz" >/dev/null
  "$tmp/packed/bin/lfs-bridge" --version
  step "OK: all three install paths work"
fi
