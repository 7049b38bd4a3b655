#!/usr/bin/env bash
# What the kivaloo tests and benchmarks need, installed only when missing:
#   redis-server: the reference store the benchmark runs side by side with
#   kivaloo (appendonly yes, appendfsync always); the bench's own test
#   starts one and fails if it cannot.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}"
fi
# Debian's package starts a system-wide server on port 6379; the tests and
# benchmarks start their own on a Unix socket and never use it.
