#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, builds, lints, then runs the whole mocha suite inside
# a private D-Bus session with a throwaway unlocked gnome-keyring, so keychain tests hit a real Secret Service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
npx biome check .
npx tsc -p tsconfig.json --noEmit
exec bash scripts/with-keychain.sh npx mocha "${@:-test/**/*.test.ts}"
