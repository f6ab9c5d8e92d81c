#!/usr/bin/env bash
# Installs Debian packages the tests need (e.g. chromium for the browser tests), once, when missing.
# Usage: system-deps.sh <package>...   Known packages are checked by the file they provide.
# As root it runs apt-get (with progress on stderr); otherwise it says what is missing and exits 1.
set -euo pipefail
provides() {
  case "$1" in
    chromium) echo /usr/bin/chromium ;;
    libkrb5-dev) echo /usr/include/gssapi/gssapi.h ;;
    wine64) echo /usr/lib/wine/wine64 ;;
    *) echo "" ;;
  esac
}
missing=()
for p in "$@"; do
  f=$(provides "$p")
  if [ -n "$f" ]; then [ -e "$f" ] || missing+=("$p"); else dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "system-deps: apt-get install ${missing[*]} (a minute or two the first time)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}
echo "system-deps: installed ${missing[*]}" >&2
