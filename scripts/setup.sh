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
# core/git-source.checkout runs the host's git (Debian's /usr/bin/git): installed when missing and we may (root, apt).
if ! command -v git >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing git (apt)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git </dev/null >/dev/null 2>&1 \
      || { apt-get update -qq </dev/null >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git </dev/null >/dev/null 2>&1; }; } \
      || echo "setup: could not install git; core/git-source.checkout will fail RUNTIME_UNAVAILABLE"
  else
    echo "setup: no git on this host; core/git-source.checkout will fail RUNTIME_UNAVAILABLE (install git)"
  fi
fi
# SSH checkouts: ssh in the sandbox names its leased uid through nss_wrapper (libnss-wrapper, a library: no service).
# The tests' private sshd (openssh-server) is .ci/run's to install: setup never starts a server on this machine.
if [ ! -e /usr/lib/x86_64-linux-gnu/libnss_wrapper.so ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing libnss-wrapper (apt)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnss-wrapper </dev/null >/dev/null 2>&1 \
      || { apt-get update -qq </dev/null >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnss-wrapper </dev/null >/dev/null 2>&1; }; } \
      || echo "setup: could not install libnss-wrapper; ssh:// checkouts will fail (No user exists for uid)"
  else
    echo "setup: no nss_wrapper on this host; core/git-source.checkout over ssh will fail (install libnss-wrapper)"
  fi
fi
# The native launcher is built static against musl when musl-gcc is there (musl-tools): glibc's start-up costs ~0.7 ms
# of CPU per fresh attempt in a VM (sandbox/process/build-launcher.ts). Optional: without it the system libc is used.
if ! command -v musl-gcc >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing musl-tools (apt)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools </dev/null >/dev/null 2>&1 \
    || { apt-get update -qq </dev/null >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools </dev/null >/dev/null 2>&1; }; } \
    || echo "setup: could not install musl-tools; the sandbox launcher is built with the system libc"
fi
bun install --frozen-lockfile
bun sandbox/process/build-launcher.ts || true   # the native launcher and the guest bundle (sandbox/sdk/boot.bundle.js)
bun scripts/build-client.ts >/dev/null   # dist/client: the `autokestra/client` entry (package.json exports; README)
bun ui/build.ts || true   # the web UI's bundle (ui/dist/); without it the server builds it on the first /ui request
bash scripts/link-cli.sh   # `workflow` and `autokestra` on PATH, pointing at this checkout
echo "setup: done — try: workflow --help"
