#!/usr/bin/env bash
# What spiped's security tests need. Installed only when missing.
#   valgrind: memcheck runs crates/spiped-fuzz's constant-time check
#   (tests/constant_time.rs).
set -euo pipefail
need=()
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}"
fi
