#!/usr/bin/env bash
# lookout on loopback (run by scripts/demo.sh): see scripts/lookout-demo.sh.
set -euo pipefail
exec bash "$(dirname "$0")/../lookout-demo.sh"
