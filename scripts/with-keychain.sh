#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked, throwaway gnome-keyring: the tests use the
# real OS keychain (Secret Service), never the user's own.
set -euo pipefail
if [ -z "${LFS_BRIDGE_IN_KEYRING:-}" ]; then
  export LFS_BRIDGE_IN_KEYRING=1
  exec dbus-run-session -- "$0" "$@" 2> >(grep -v 'Failed to set fd limit\|Activating service\|Successfully activated' >&2)
fi
keyhome=$(mktemp -d "${TMPDIR:-/tmp}/lfs-bridge-keyring.XXXXXX")
trap 'rm -rf "$keyhome"' EXIT
export XDG_DATA_HOME="$keyhome/data" XDG_RUNTIME_DIR="$keyhome/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'throwaway' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
export GNOME_KEYRING_CONTROL
"$@"
