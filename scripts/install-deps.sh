#!/usr/bin/env bash
# Installs the system packages lfs-bridge needs, from Debian's packages, when they are missing.
#   scripts/install-deps.sh          git-lfs (for using lfs-bridge)
#   scripts/install-deps.sh --test   also dbus, gnome-keyring, libsecret-tools (a real keychain for the tests)
set -euo pipefail
want=(git git-lfs)
[ "${1:-}" = "--test" ] && want+=(dbus-run-session gnome-keyring-daemon secret-tool openssl script)
declare -A pkg=([git]=git [git-lfs]=git-lfs [dbus-run-session]=dbus [gnome-keyring-daemon]=gnome-keyring
  [secret-tool]=libsecret-tools [openssl]=openssl [script]=bsdutils)
missing=()
for cmd in "${want[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "lfs-bridge needs: ${missing[*]} — install them with your package manager (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
