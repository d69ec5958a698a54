#!/usr/bin/env bash
# CPU per request of the webhook route, beside the native reference in the
# same run: the steadier measure when comparing two builds on a shared
# machine, where requests/s moves by a third between runs.
#
#   bench/cpu.sh [GLBRIDGE_BINARY]        # default target/release/glbridge
#
# Settings (environment):
#   DURATION=6s     wrk's run against each server
#   EVENTS=300000   distinct signed webhooks (over 1,000 conversations); more
#                   than a run can send, so that every request is a new event
#   PREFILL=1       send events for 10 s first, so that the measured run is
#                   of redeliveries only (with EVENTS=100000)
#   SERVE_ARGS=...  more `glbridge serve` flags (e.g. "--workers 2")
# Prints requests/s, p50/p99, the serving process's CPU time per request
# (user + system, from /proc) for `serve` and the reference, and their ratio.
# Needs wrk (bench/load.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-6s}
EVENTS=${EVENTS:-300000}
KEY=whsec_load
cargo build --release -q -p glbridge-cli --bin glbridge --example webhook_requests --example webhook_reference
BIN=${1:-target/release/glbridge}
ex=target/release/examples

# shellcheck source=bench/common.sh
. bench/common.sh
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
run_wrk() { # port out [duration]
    GLBRIDGE_REQUESTS="$work/requests.tsv" GLBRIDGE_WRK_THREADS=2 \
        wrk -t2 -c32 -d"${3:-$DURATION}" --latency -s bench/webhooks.lua "http://127.0.0.1:$1" >"$2"
}
measure() { # label pid port
    local before after
    before=$(ticks "$2")
    run_wrk "$3" "$work/$1.wrk"
    after=$(ticks "$2")
    python3 - "$1" "$(grep '^RESULT' "$work/$1.wrk")" "$((after - before))" "$(getconf CLK_TCK)" <<'PY'
import sys
label, result, ticks, hz = sys.argv[1], dict(kv.split("=") for kv in sys.argv[2].split()[1:]), int(sys.argv[3]), int(sys.argv[4])
us = ticks / hz * 1e6 / int(result["requests"])
print(f"{label}: {result['rps']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, {us:.1f} us CPU/request")
PY
}

"$ex/webhook_requests" "$work/requests.tsv" "$EVENTS" 1000 "$KEY" >/dev/null

port=$(free_port)
# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
"$BIN" serve --listen "127.0.0.1:$port" --store "$work/store.db" \
    --api-url http://127.0.0.1:9 --api-key unused --webhook-signing-key "$KEY" \
    --insecure-no-gleap-auth ${SERVE_ARGS:-} 2>"$work/serve.log" &
serve=$!
pids+=("$serve")
wait_port "$port"
if [ -n "${PREFILL:-}" ]; then run_wrk "$port" /dev/null 10s; fi
measure serve "$serve" "$port" | tee "$work/serve.txt"
kill "$serve"; wait "$serve" 2>/dev/null || true

port=$(free_port)
"$ex/webhook_reference" "127.0.0.1:$port" "$KEY" 2>/dev/null &
ref=$!
pids+=("$ref")
wait_port "$port"
measure reference "$ref" "$port" | tee "$work/reference.txt"

python3 - "$(cat "$work/serve.txt")" "$(cat "$work/reference.txt")" <<'PY'
import sys
rps = [float(line.split(": ")[1].split(" req/s")[0]) for line in sys.argv[1:]]
print(f"webhook route / reference: {rps[0] / rps[1]:.2f}x")
PY
