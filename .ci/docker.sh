#!/usr/bin/env bash
# Installs and starts a Docker engine when none answers (the docker runner's tests need a real one).
# Works unattended as root on a fresh Debian/Ubuntu machine (no systemd needed, no stdin).
set -uo pipefail

log=/tmp/dockerd.log
engine_up() { docker info >/dev/null 2>&1; }
wait_engine() { # <seconds>: polls with a deadline
  local end=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$end" ]; do
    engine_up && return 0
    pgrep -x dockerd >/dev/null 2>&1 || return 1 # died: no point waiting
    sleep 0.5
  done
  return 1
}

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

# A service manager may know how to start it; fall back to running dockerd directly.
if ! engine_up && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl start docker >/dev/null 2>&1 && wait_engine 30 && exit 0
fi

dockerd_pid=
start_dockerd() {
  if pgrep -x dockerd >/dev/null 2>&1; then return 0; fi
  setsid nohup dockerd "$@" </dev/null >"$log" 2>&1 &
  dockerd_pid=$!
}

start_dockerd
wait_engine 60 && exit 0
# Hosts without working iptables/nftables: the bridge network still exists, without NAT to the outside.
if grep -qiE 'iptables|nftables|nat' "$log" 2>/dev/null; then
  if [ -n "$dockerd_pid" ]; then # only the dockerd this script started
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.25; done
  fi
  start_dockerd --iptables=false --ip-masq=false
  wait_engine 60 && exit 0
fi
echo "ci: dockerd did not answer; see $log"
tail -n 20 "$log"
exit 1
