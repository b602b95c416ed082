#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked, throwaway gnome-keyring: the tests use the
# real OS keychain (Secret Service), never the user's own.
#
# The proof for the tests (test/helpers/keyring-guard.ts): a random marker secret is stored in the fresh keyring
# under a random lookup key, and a copy kept in a 0600 file of the throwaway dir. A test that touches the keychain
# reads the marker back through the Secret Service its environment reaches and compares: only this keyring has it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Always a new session (never trust an inherited variable to say we are already in one): the inner run is marked
# by an argument only this script passes.
if [ "${1:-}" != "--inside-private-session" ]; then
  exec dbus-run-session -- "$0" --inside-private-session "$@" \
    2> >(grep -v 'Failed to set fd limit\|Activating service\|Successfully activated' >&2)
fi
shift
keyhome=$(mktemp -d "${TMPDIR:-/tmp}/lfs-bridge-keyring.XXXXXX")
trap 'rm -rf "$keyhome"' EXIT
export XDG_DATA_HOME="$keyhome/data" XDG_RUNTIME_DIR="$keyhome/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'throwaway' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
export GNOME_KEYRING_CONTROL
export LFS_BRIDGE_TEST_KEYRING="marker-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export LFS_BRIDGE_TEST_KEYRING_FILE="$keyhome/marker"
(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$LFS_BRIDGE_TEST_KEYRING_FILE")
(cd "$root" && node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { AsyncEntry } from "@napi-rs/keyring";
  const secret = readFileSync(process.env.LFS_BRIDGE_TEST_KEYRING_FILE, "utf8");
  await new AsyncEntry("lfs-bridge-test-keyring", process.env.LFS_BRIDGE_TEST_KEYRING).setPassword(secret);')
"$@"
