#!/usr/bin/env bash
# 20 s of new webhooks only (600,000 distinct ids) on a SQLite store with
# the given --wal-limit: requests/s, p99, and the WAL file's largest size
# (sampled every 200 ms) and its size at the end.
#
#   bench/wal.sh [LIMIT]     # default 256MiB
#
# GLBRIDGE_SERVE_LOG=FILE keeps the service's log there.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-256MiB}
cargo build --release -q -p glbridge-cli --bin glbridge --example webhook_requests
. bench/common.sh
target/release/examples/webhook_requests "$work/req.tsv" 600000 1000 whsec_load
port=$(free_port)
target/release/glbridge serve --listen "127.0.0.1:$port" --store "$work/s.db" --api-url http://127.0.0.1:9 \
    --api-key unused --webhook-signing-key whsec_load --insecure-no-gleap-auth --wal-limit "$limit" >/dev/null 2>"${GLBRIDGE_SERVE_LOG:-$work/serve.log}" &
spid=$!; pids+=("$spid"); wait_port "$port"
( while kill -0 "$spid" 2>/dev/null; do stat -c %s "$work/s.db-wal" 2>/dev/null || echo 0; sleep 0.2; done ) >"$work/wal" &
pids+=("$!")
GLBRIDGE_REQUESTS="$work/req.tsv" GLBRIDGE_WRK_THREADS=2 wrk -t2 -c32 -d20s --latency -s bench/webhooks.lua "http://127.0.0.1:$port" | grep '^RESULT'
echo "wal_limit=$limit wal_largest_mb=$(sort -n "$work/wal" | tail -1 | awk '{printf "%.0f", $1/1048576}') wal_end_mb=$(stat -c %s "$work/s.db-wal" | awk '{printf "%.0f", $1/1048576}')"
