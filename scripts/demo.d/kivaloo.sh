#!/usr/bin/env bash
# kivaloo round trip on loopback: lbs <- kvlds <- mux <- the kivaloo CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== kivaloo: building (release)"
cargo build --release --quiet -p kivaloo-lbs -p kivaloo-kvlds -p kivaloo-mux -p kivaloo-client
B=$PWD/target/release
W=$(mktemp -d)
cleanup() {
    # Clients' side first, so no daemon reports its upstream going away.
    for d in mux kvlds lbs; do
        [ -e "$W/$d.pid" ] && kill "$(cat "$W/$d.pid")" 2>/dev/null || true
        sleep 0.1
    done
    rm -rf "$W"
}
trap cleanup EXIT
mkdir "$W/store"
echo "== kivaloo: starting lbs, kvlds and mux on Unix sockets in $W"
"$B/kivaloo-lbs" -s "$W/lbs.sock" -d "$W/store" -b 2048 -p "$W/lbs.pid"
"$B/kivaloo-kvlds" -s "$W/kvlds.sock" -l "$W/lbs.sock" -p "$W/kvlds.pid"
"$B/kivaloo-mux" -t "$W/kvlds.sock" -s "$W/mux.sock" -p "$W/mux.pid"
K="$B/kivaloo -t $W/mux.sock"
$K set block:0001 s3://bucket/objects/0001
$K set block:0002 s3://bucket/objects/0002
got=$($K get block:0001)
echo "   get block:0001 -> $got"
[ "$got" = "s3://bucket/objects/0001" ]
$K delete block:0002
echo "   OK: kivaloo set/get/delete round trip through mux, kvlds and lbs (fsynced to $W/store)"
