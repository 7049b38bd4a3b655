#!/usr/bin/env bash
# Debian packages the tests run against. Installed only when missing.
#   spiped: the reference peer (1.6.2) for the interop tests.
set -euo pipefail
need=()
[ -x /usr/bin/spiped ] && [ -x /usr/bin/spipe ] || need+=(spiped)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}"
fi
