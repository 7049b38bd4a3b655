#!/usr/bin/env bash
# The main job, end to end on loopback: build, make a key, start a
# decrypting and an encrypting spiped (ours), push 64 MiB of random data
# through them to an echo server and back, and show it arrived intact.
# Also sends the same data through Debian's spiped -d if it is installed,
# to show the wire compatibility.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building (release)"
cargo build --release --quiet -p spiped --bins
BIN=$PWD/target/release

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ECHO=$(free_port); DEC=$(free_port); ENC=$(free_port)

echo "== making a key"
umask 077
head -c 32 /dev/urandom > "$work/key"

echo "== starting an echo server on 127.0.0.1:$ECHO"
python3 - "$ECHO" <<'PY' &
import socket, sys, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(16)
def echo(c):
    while (b := c.recv(1 << 20)):
        c.sendall(b)
    c.shutdown(socket.SHUT_WR); c.close()
while True:
    c, _ = ls.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
PY
pids+=($!)

echo "== spiped -d on [127.0.0.1]:$DEC -> echo; spiped -e on [127.0.0.1]:$ENC -> -d"
"$BIN/spiped" -d -s "[127.0.0.1]:$DEC" -t "[127.0.0.1]:$ECHO" -k "$work/key" -p "$work/d.pid"
pids+=("$(cat "$work/d.pid")")
"$BIN/spiped" -e -s "[127.0.0.1]:$ENC" -t "[127.0.0.1]:$DEC" -k "$work/key" -p "$work/e.pid"
pids+=("$(cat "$work/e.pid")")

push() { # push PORT: 64 MiB through, echoed back, compared by SHA-256
    python3 - "$1" <<'PY'
import hashlib, os, socket, sys, threading, time
data = os.urandom(64 << 20)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.time()
def send():
    c.sendall(data); c.shutdown(socket.SHUT_WR)
threading.Thread(target=send).start()
h, n = hashlib.sha256(), 0
while (b := c.recv(1 << 20)):
    h.update(b); n += len(b)
dt = time.time() - t0
sent, got = hashlib.sha256(data).hexdigest(), h.hexdigest()
print(f"   sent     {len(data)} bytes sha256 {sent[:16]}...")
print(f"   received {n} bytes sha256 {got[:16]}...  ({2*n/dt/1e6:.0f} MB/s both ways)")
sys.exit(0 if sent == got else 1)
PY
}

echo "== client -> spiped -e -> spiped -d -> echo -> back"
push "$ENC" && echo "   OK: the data came back intact through the encrypted pipe"

if [ -x /usr/bin/spiped ]; then
    CDEC=$(free_port); CENC=$(free_port)
    echo "== the same through our -e and Debian's C spiped -d (wire compatibility)"
    /usr/bin/spiped -d -s "[127.0.0.1]:$CDEC" -t "[127.0.0.1]:$ECHO" -k "$work/key" -p "$work/cd.pid"
    pids+=("$(cat "$work/cd.pid")")
    "$BIN/spiped" -e -s "[127.0.0.1]:$CENC" -t "[127.0.0.1]:$CDEC" -k "$work/key" -p "$work/ce.pid"
    pids+=("$(cat "$work/ce.pid")")
    push "$CENC" && echo "   OK: our spiped and Debian's interoperate"
fi

echo "== spipe -> spiped -d -> echo"
head -c 1000000 /dev/urandom > "$work/in"
"$BIN/spipe" -t "[127.0.0.1]:$DEC" -k "$work/key" < "$work/in" > "$work/out"
cmp "$work/in" "$work/out" && echo "   OK: spipe round trip of 1000000 bytes intact"

for extra in scripts/demo.d/*.sh; do
    [ -e "$extra" ] && bash "$extra"
done
echo "== all good"
