#!/usr/bin/env bash
# Load benchmark of `glbridge serve` on loopback, every figure from one run:
#   1. the webhook route: wrk, $THREADS threads x $CONNECTIONS connections x
#      $DURATION, 1 KiB signed agent.message webhooks, 100,000 distinct event
#      ids over 1,000 conversations, SQLite store (durability: process);
#   2. the same with --durability power-loss (every commit fsynced);
#   3. the native reference: a minimal axum handler verifying and parsing the
#      same webhooks natively, no store (cli/examples/webhook_reference.rs);
#   4. the Gleap route with the embedded sandbox: each call a new
#      conversation answered from an article;
#   5. the Chatwoot route: signed `message_created` events of 100,000
#      customer messages over 1,000 conversations, each planned and queued
#      (committed) before its 200 (the queued calls then fail against a
#      closed port and back off).
# Prints requests/s, p50/p99 and peak RSS of each, and the webhook route's
# ratio to the reference. Installs wrk (Debian/Ubuntu apt) if it is missing.
#
#   bench/load.sh                       # DURATION=15s CONNECTIONS=32 THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
KEY=whsec_load

if ! command -v wrk >/dev/null; then
    echo "== installing wrk"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get install -y wrk >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi

echo "== building (release)"
cargo build --release -q -p glbridge-cli --bin glbridge --example webhook_requests --example webhook_reference --example chatwoot_requests
bin=target/release
ex=target/release/examples

# shellcheck source=bench/common.sh
. bench/common.sh
peak_rss_mb() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
result() { grep '^RESULT' "$1" | sed 's/^RESULT //'; }
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

echo "== signing 100,000 webhooks (1,000 conversations)"
"$ex/webhook_requests" "$work/requests.tsv" 100000 1000 "$KEY"

wrk_webhooks() { # port out
    GLBRIDGE_REQUESTS="$work/requests.tsv" GLBRIDGE_WRK_THREADS=$THREADS \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/webhooks.lua \
        "http://127.0.0.1:$1" >"$2"
}

serve_webhooks() { # label durability
    local port; port=$(free_port)
    "$bin/glbridge" serve --listen "127.0.0.1:$port" --store "$work/$1.db" \
        --api-url http://127.0.0.1:9 --api-key unused --webhook-signing-key "$KEY" \
        --insecure-no-gleap-auth --durability "$2" 2>"$work/$1.log" &
    local pid=$!
    pids+=("$pid")
    wait_port "$port"
    echo "== webhook route, durability $2: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
    wrk_webhooks "$port" "$work/$1.wrk"
    echo "$(result "$work/$1.wrk") peak_rss_mb=$(peak_rss_mb "$pid") db_mb=$(du -m "$work/$1.db" | cut -f1)" >"$work/$1.res"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    cat "$work/$1.res"
}

serve_webhooks webhooks process
serve_webhooks webhooks-fsync power-loss

port=$(free_port)
"$ex/webhook_reference" "127.0.0.1:$port" "$KEY" 2>/dev/null &
ref=$!
pids+=("$ref")
wait_port "$port"
echo "== native reference handler: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
wrk_webhooks "$port" "$work/reference.wrk"
echo "$(result "$work/reference.wrk") peak_rss_mb=$(peak_rss_mb "$ref")" >"$work/reference.res"
kill "$ref"; wait "$ref" 2>/dev/null || true
cat "$work/reference.res"

port=$(free_port)
"$bin/glbridge" serve --listen "127.0.0.1:$port" --store "$work/gleap.db" \
    --gleap-secret "Bearer load" 2>"$work/gleap.log" >/dev/null &
gleap=$!
pids+=("$gleap")
wait_port "$port"
echo "== Gleap route (embedded sandbox): wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
GLBRIDGE_RUN=$$ wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/gleap.lua \
    --timeout 20s "http://127.0.0.1:$port" >"$work/gleap.wrk"
outcomes=$(python3 - "$port" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
counts = {}
for line in text.splitlines():
    if line.startswith("glbridge_outcomes_total{"):
        name = line.split('name="')[1].split('"')[0]
        counts[name] = int(float(line.rsplit(" ", 1)[1]))
print(",".join(f"{k}:{v}" for k, v in sorted(counts.items()) if k not in ("accepted", "duplicate")))
PY
)
echo "$(result "$work/gleap.wrk") peak_rss_mb=$(peak_rss_mb "$gleap") outcomes=$outcomes" >"$work/gleap.res"
kill "$gleap"; wait "$gleap" 2>/dev/null || true
cat "$work/gleap.res"

port=$(free_port)
"$ex/chatwoot_requests" "$work/chatwoot.tsv" 100000 1000 cw_load
"$bin/glbridge" serve --listen "127.0.0.1:$port" --store "$work/chatwoot.db" \
    --api-url http://127.0.0.1:9 --api-key unused --webhook-signing-key "$KEY" \
    --chatwoot-url http://127.0.0.1:9 --chatwoot-bot-token unused --chatwoot-secret cw_load \
    2>"$work/chatwoot.log" &
cw=$!
pids+=("$cw")
wait_port "$port"
echo "== Chatwoot route: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
GLBRIDGE_REQUESTS="$work/chatwoot.tsv" GLBRIDGE_WRK_THREADS=$THREADS \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/chatwoot.lua \
    "http://127.0.0.1:$port" >"$work/chatwoot.wrk"
echo "$(result "$work/chatwoot.wrk") peak_rss_mb=$(peak_rss_mb "$cw")" >"$work/chatwoot.res"
kill "$cw"; wait "$cw" 2>/dev/null || true
cat "$work/chatwoot.res"

echo
echo "| run | requests/s | p50 | p99 | non-2xx | peak RSS |"
echo "|---|---|---|---|---|---|"
for r in webhooks webhooks-fsync reference gleap chatwoot; do
    line=$(cat "$work/$r.res")
    printf '| %s | %s | %s ms | %s ms | %s | %s MB |\n' "$r" "$(field "$line" rps)" \
        "$(field "$line" p50_ms)" "$(field "$line" p99_ms)" "$(field "$line" non2xx)" "$(field "$line" peak_rss_mb)"
done
echo
python3 - "$(field "$(cat "$work/webhooks.res")" rps)" "$(field "$(cat "$work/webhooks-fsync.res")" rps)" "$(field "$(cat "$work/reference.res")" rps)" <<'PY'
import sys
serve, fsync, ref = map(float, sys.argv[1:])
print(f"webhook route / native reference: {serve / ref:.2f}x (power-loss durability: {fsync / ref:.2f}x)")
PY
echo "Gleap outcomes: $(field "$(cat "$work/gleap.res")" outcomes)"
