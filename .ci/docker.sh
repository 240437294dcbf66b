#!/usr/bin/env bash
# Installs and starts a Docker engine when none answers (the docker runner's tests need a real one).
# Works unattended as root on a fresh Debian/Ubuntu machine (no systemd needed, no stdin).
set -uo pipefail

log=/tmp/dockerd.log
engine_up() { docker info >/dev/null 2>&1; }

if engine_up; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "ci: docker is not installed and this is not root"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-y -qq -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  # Keep the package's init script from trying to start a service manager we may not have.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1; fi
  apt-get update -qq -o DPkg::Lock::Timeout=300 </dev/null >/tmp/apt-docker.log 2>&1 \
    && apt-get install "${apt_opts[@]}" docker.io </dev/null >>/tmp/apt-docker.log 2>&1
  rc=$?
  [ "$created_policy" -eq 1 ] && rm -f "$policy"
  if [ "$rc" -ne 0 ]; then echo "ci: apt-get install docker.io failed"; tail -n 20 /tmp/apt-docker.log; exit 1; fi
fi

dockerd_pid=
# A pid file left by a dockerd or containerd that no longer runs (a machine restored from a snapshot keeps
# /run) makes a new dockerd refuse to start at once, or wait on a containerd that is not there. A pid file
# is stale unless the process it names is that very program.
clear_stale_pidfile() { # <pidfile> <program>
  local file=$1 prog=$2 pid comm
  [ -f "$file" ] || return 0
  pid=$(tr -dc '0-9' <"$file" 2>/dev/null)
  comm=
  [ -n "$pid" ] && comm=$(cat "/proc/$pid/comm" 2>/dev/null)
  # A killed daemon's zombie still has its name: its state field (after the ")") is Z.
  if [ -n "$pid" ] && sed -n 's/.*) \([A-Z]\).*/\1/p' "/proc/$pid/stat" 2>/dev/null | grep -qx Z; then comm=zombie; fi
  if [ "$comm" != "$prog" ]; then
    echo "ci: removing stale $file (pid ${pid:-none} is not $prog)"
    rm -f "$file"
  fi
}
dockerd_running() { [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; }
start_dockerd() {
  if [ -z "$dockerd_pid" ] && [ -n "$(running_dockerd)" ]; then return 0; fi # one already runs: wait on it
  clear_stale_pidfile /var/run/docker.pid dockerd
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  setsid nohup dockerd "$@" </dev/null >"$log" 2>&1 &
  dockerd_pid=$!
}
running_dockerd() { # pids of dockerd processes, without pgrep (procps may be missing)
  local d
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = dockerd ] && echo "${d#/proc/}"
  done
}
stop_ours() {
  dockerd_running || return 0
  kill "$dockerd_pid" 2>/dev/null
  for _ in $(seq 1 40); do dockerd_running || break; sleep 0.25; done
  kill -9 "$dockerd_pid" 2>/dev/null
  dockerd_pid=
}
wait_ours() { # <seconds>: polls with a deadline
  local end=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$end" ]; do
    engine_up && return 0
    if [ -n "$dockerd_pid" ]; then dockerd_running || return 1
    elif [ -z "$(running_dockerd)" ]; then return 1; fi
    sleep 0.5
  done
  return 1
}

# A service manager may know how to start it; fall back to running dockerd directly.
if ! engine_up && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl start docker >/dev/null 2>&1 && wait_ours 30 && exit 0
fi

# Each try is more conservative than the last: hosts without working iptables/nftables keep the bridge
# network without NAT to the outside; hosts without overlayfs (nested containers) fall back to vfs.
tries=("" "--iptables=false --ip-masq=false" "--iptables=false --ip-masq=false --storage-driver=vfs")
for flags in "${tries[@]}"; do
  # shellcheck disable=SC2086
  start_dockerd $flags
  wait_ours 60 && exit 0
  echo "ci: dockerd ${flags:-with default flags} did not answer; the end of $log:"
  tail -n 15 "$log"
  [ -z "$dockerd_pid" ] && break # a dockerd this script did not start does not answer: no flags will help
  stop_ours
done
echo "ci: dockerd did not answer; see $log"
exit 1
