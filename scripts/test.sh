#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, builds, lints, then runs the whole mocha suite inside
# a private D-Bus session with a throwaway unlocked gnome-keyring, so keychain tests hit a real Secret Service,
# and prints a coverage map of src/ (scripts/coverage-summary.mjs; full report in coverage/index.html).
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
# Under c8 (.c8rc.json), which collects V8 coverage of this process and of every process it starts: the e2e tests'
# git-lfs agents and CLIs run the built dist/ in place (not a private copy), so the build's source maps lead back
# to src/.
LFS_BRIDGE_E2E_IN_PLACE=1 bash scripts/with-keychain.sh npx c8 mocha "${@:-test/**/*.test.ts}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
node scripts/coverage-summary.mjs || echo "no coverage summary (coverage/coverage-summary.json)"
rm -rf coverage/tmp # the raw V8 coverage of every process: hundreds of MB, all in the report now
set -e
count() { grep -Eo "^ +[0-9]+ $1" "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0; }
# One plain closing line that any CI reads: N passed, N failed, N skipped. Pending tests fail the run (.mocharc.json
# forbids them); skipped are the documented platform cases not run on this machine (test/helpers/platform.ts).
platform=$(grep -c '^platform case not run here: ' "$log" || true)
echo "tests: $(count passing) passed, $(count failing) failed, $(($(count pending) + platform)) skipped"
exit "$rc"
