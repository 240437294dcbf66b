#!/usr/bin/env bash
# PostgreSQL for the PostgreSQL backend's tests (issue 19): installs Debian's `postgresql` when no initdb is found,
# starts one private cluster (initdb in /tmp/autokestra-ci-postgres-<checkout>, 127.0.0.1, a free port, trust auth for the local test user,
# run as the `postgres` user because initdb refuses root) and prints its superuser URL on stdout, for
# AUTOKESTRA_TEST_POSTGRES_URL (test/helpers/postgres.ts creates a fresh database per test on it).
# `bash .ci/postgres.sh stop` stops it. Diagnostics go to stderr; exit 1 when PostgreSQL cannot be had.
set -uo pipefail
cd "$(dirname "$0")/.."
# In /tmp, not the checkout: the postgres user must reach it, and a checkout may sit under a 0700 home.
base="${TMPDIR:-/tmp}/autokestra-ci-postgres-$(printf %s "$PWD" | cksum | cut -d" " -f1)" # one per checkout
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-}" = "stop" ]; then
  bin=$(bindir)
  [ -n "$bin" ] && [ -d "$base/data" ] && as_pg "$bin/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$base"
  exit 0
fi

if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 postgresql </dev/null >/tmp/apt-postgresql.log 2>&1 \
      || { apt-get update -qq -o DPkg::Lock::Timeout=300 </dev/null >>/tmp/apt-postgresql.log 2>&1 \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 postgresql </dev/null >>/tmp/apt-postgresql.log 2>&1; } \
      || { echo "ci: could not install postgresql (see /tmp/apt-postgresql.log)" >&2; exit 1; }
  else
    echo "ci: no PostgreSQL and no way to install it" >&2
    exit 1
  fi
fi
bin=$(bindir)

# A cluster of an earlier run is stopped and replaced: every run starts empty.
[ -d "$base/data" ] && as_pg "$bin/pg_ctl" -D "$base/data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$base"
mkdir -p "$base"
[ "$(id -u)" -eq 0 ] && chown postgres: "$base"
as_pg "$bin/initdb" -D "$base/data" -A trust -U postgres -E UTF8 --no-sync >"$base/initdb.log" 2>&1 \
  || { echo "ci: initdb failed:" >&2; cat "$base/initdb.log" >&2; exit 1; }
for try in 1 2 3; do
  port=$(bun -e 'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(s.port); s.stop(true)')
  # fsync off: a CI cluster need not survive power loss.
  if as_pg "$bin/pg_ctl" -D "$base/data" -l "$base/log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $base -c fsync=off -c full_page_writes=off -c max_connections=300" start >/dev/null 2>&1; then
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    exit 0
  fi
done
echo "ci: PostgreSQL did not start:" >&2
cat "$base/log" >&2
exit 1
