#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, builds, lints, then runs the whole mocha suite inside
# a private D-Bus session with a throwaway unlocked gnome-keyring, so keychain tests hit a real Secret Service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
node scripts/build-if-stale.mjs # npm ci has built already (prepare): no second build
npx biome check .
npx tsc -p tsconfig.json --noEmit
log=$(mktemp "${TMPDIR:-/tmp}/lfs-bridge-test.XXXXXX")
trap 'rm -f "$log"' EXIT
set +e
bash scripts/with-keychain.sh npx mocha "${@:-test/**/*.test.ts}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
count() { grep -Eo "^ +[0-9]+ $1" "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0; }
# One plain closing line that any CI reads: N passed, N failed[, N skipped]
echo "tests: $(count passing) passed, $(count failing) failed, $(count pending) skipped"
exit "$rc"
