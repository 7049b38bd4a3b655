#!/usr/bin/env bash
# kivaloo round trip (run by scripts/demo.sh): lbs -> kvlds -> mux on Unix
# sockets, the kivaloo CLI storing and reading pairs, a pipelined load of
# 100 000 pairs, a dump compared with what was loaded, and a restart of the
# whole stack showing the data survived.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== kivaloo: building (release)"
cargo build --release --quiet -p kivaloo-lbs -p kivaloo-kvlds -p kivaloo-mux -p kivaloo-client -p kivaloo-bench
B=$PWD/target/release
W=$(mktemp -d)
pids=()
stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    pids=()
    rm -f "$W"/*.sock
}
trap 'stop; rm -rf "$W"' EXIT
mkdir "$W/store"

start() {
    "$B/kivaloo-lbs" -s "$W/lbs.sock" -d "$W/store" -b 2048 -p "$W/lbs.pid"
    pids+=("$(cat "$W/lbs.pid")")
    "$B/kivaloo-kvlds" -s "$W/kvlds.sock" -l "$W/lbs.sock" -p "$W/kvlds.pid"
    pids+=("$(cat "$W/kvlds.pid")")
    "$B/kivaloo-mux" -t "$W/kvlds.sock" -s "$W/mux.sock" -p "$W/mux.pid"
    pids+=("$(cat "$W/mux.pid")")
}

echo "== kivaloo: starting kivaloo-lbs, kivaloo-kvlds, kivaloo-mux"
start
kv() { "$B/kivaloo" -t "$W/mux.sock" "$@"; }
kv set greeting "hello, world"
echo "   get greeting -> $(kv get greeting)"

echo "== kivaloo: loading 100000 pairs of upstream's benchmark data set"
"$B/kivaloo-bench" mkpairs 100000 > "$W/pairs"
python3 - "$W/pairs" "$W/pairs.stream" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    for i in range(0, len(raw), 80):
        f.write(b"\x28" + raw[i:i+40] + b"\x28" + raw[i+40:i+80])
PY
kv load "$W/pairs.stream"
# The data set's keys start with a zero byte (BE64 of a small number).
kv -x dump --start 00 --end 01 > "$W/dumped"
cmp "$W/pairs.stream" "$W/dumped" && echo "   OK: dump returns exactly the 100000 pairs loaded"

echo "== kivaloo: restarting the stack (SIGKILL) and reading back"
for p in "${pids[@]}"; do kill -9 "$p"; done
pids=(); rm -f "$W"/*.sock; sleep 0.2
start
echo "   get greeting -> $(kv get greeting)"
kv -x dump --start 00 --end 01 | cmp - "$W/pairs.stream" && echo "   OK: every pair survived kill -9"
kv stats | sed 's/^/   /'
