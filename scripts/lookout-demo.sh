#!/usr/bin/env bash
# lookout on loopback, end to end: a web page, a TCP port, a ping, a
# backup-style exec check, one that hangs (TIMED OUT) and one that fails;
# the failure pages a webhook, which we show, then acknowledge it and stop
# the monitor cleanly. Needs only the Rust toolchain and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building lookout (release)"
cargo build --release --quiet -p lookout --bins
BIN=$PWD/target/release/lookout

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { python3 -c '
import socket, sys, time
for _ in range(100):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); sys.exit(0)
    except OSError: time.sleep(0.1)
sys.exit("nothing listening on port " + sys.argv[1])' "$1"; }
WEB=$(free_port); HOOK=$(free_port); UI=$(free_port); CLOSED=$(free_port)

echo "== a web page on 127.0.0.1:$WEB and a webhook receiver on 127.0.0.1:$HOOK"
mkdir -p "$work/www" && echo "<h1>Welcome to the shop</h1>" > "$work/www/index.html"
python3 -m http.server "$WEB" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)
python3 - "$HOOK" "$work/hooks" <<'PY' &
import http.server, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        out.write(self.rfile.read(int(self.headers["Content-Length"])).decode() + "\n"); out.flush()
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)
wait_port "$WEB"; wait_port "$HOOK"

echo "backup archive" > "$work/backup.tar"
cat > "$work/lookout.toml" <<EOF2
[monitor]
name = "demo"
listen = "127.0.0.1:$UI"
state_dir = "$work/state"
group_wait = "0s"
fail_after = 1
jitter = "0"

[delivery]
backoff = "1s"

[channel.hook]
type = "webhook"
url = "http://127.0.0.1:$HOOK/alert"

[policy.default]
steps = [{ after = "0s", notify = ["hook"] }]

[[check]]
name = "shop-page"
type = "http"
url = "http://127.0.0.1:$WEB/"
body_contains = "Welcome"
interval = "2s"

[[check]]
name = "shop-port"
type = "tcp"
address = "127.0.0.1:$WEB"
interval = "2s"

[[check]]
name = "loopback"
type = "ping"
host = "127.0.0.1"
interval = "2s"

[[check]]
name = "backup-verify"
type = "exec"
command = ["sh", "-c", "test -s '$work/backup.tar' && echo 'BACKUP OK - archive present' || { echo 'BACKUP CRITICAL - archive missing'; exit 2; }"]
interval = "2s"

[[check]]
name = "stuck-job"
type = "exec"
command = ["sleep", "60"]
timeout = "1s"
interval = "3s"
policy = "none"

[[check]]
name = "old-service"
type = "tcp"
address = "127.0.0.1:$CLOSED"
interval = "2s"
EOF2

echo "== lookout check-config"
"$BIN" check-config -f "$work/lookout.toml"
echo "== lookout run (status page on http://127.0.0.1:$UI/)"
"$BIN" run -F -f "$work/lookout.toml" 2> "$work/lookout.log" &
LOOKOUT=$!
pids+=($LOOKOUT)

for _ in $(seq 1 100); do
    grep -q '"subject"' "$work/hooks" 2>/dev/null && break
    sleep 0.1
done
sleep 2.5
echo "== lookout status"
"$BIN" status -f "$work/lookout.toml" | tee "$work/status"
echo "== the webhook received"
cat "$work/hooks"
echo "== lookout ack 1"
"$BIN" ack -f "$work/lookout.toml" 1 | tee "$work/ack"
echo "== stopping lookout (SIGTERM)"
kill -TERM "$LOOKOUT"
wait "$LOOKOUT"

ok=1
for want in "shop-page .* GOOD" "backup-verify .* GOOD" "loopback .* GOOD" "stuck-job .* TIMED OUT" "old-service .* FAILED"; do
    grep -Eq "$want" "$work/status" || { echo "missing in status: $want"; ok=0; }
done
grep -q '"subject":"\[demo\] FAILED: old-service"' "$work/hooks" || { echo "no alert reached the webhook"; ok=0; }
grep -q "incident 1 acknowledged" "$work/ack" || { echo "ack failed"; ok=0; }
[ "$ok" = 1 ] || { cat "$work/lookout.log"; exit 1; }
echo "== lookout demo OK"
