#!/usr/bin/env bash
# One-command setup: installs Bun (from npm) when missing, the dependencies, and links the
# `workflow` command so it works in any new shell.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=1.4.5

if ! command -v bun >/dev/null 2>&1; then
  echo "setup: installing bun@${BUN_VERSION} from npm"
  npm install -g --allow-scripts=bun "bun@${BUN_VERSION}" >/dev/null 2>&1 || npm install -g "bun@${BUN_VERSION}"
fi
bun install --frozen-lockfile
bun sandbox/process/build-launcher.ts || true   # the native launcher and the guest bundle (sandbox/sdk/boot.bundle.js)
bun link >/dev/null
# `bun link` puts the command in ~/.bun/bin; make sure a new shell finds it.
BUN_BIN="$(bun pm bin -g 2>/dev/null || echo "$HOME/.bun/bin")"
if ! command -v workflow >/dev/null 2>&1; then
  for target in /usr/local/bin "$HOME/.local/bin"; do
    if [ -w "$target" ] || mkdir -p "$target" 2>/dev/null && [ -w "$target" ]; then
      ln -sf "$BUN_BIN/workflow" "$target/workflow"
      ln -sf "$BUN_BIN/autokestra" "$target/autokestra"
      break
    fi
  done
fi
echo "setup: done — try: workflow --help"
