#!/usr/bin/env bash
# Installs and starts a Docker engine when none answers (the docker runner's tests need a real one).
set -uo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1
  apt-get install -y -qq docker.io >/dev/null 2>&1 || { echo "ci: apt-get install docker.io failed"; exit 1; }
fi
if ! docker info >/dev/null 2>&1; then
  (dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 0.5
  done
  echo "ci: dockerd did not answer; see /tmp/dockerd.log"; tail -n 20 /tmp/dockerd.log
  exit 1
fi
