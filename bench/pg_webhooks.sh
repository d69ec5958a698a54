#!/usr/bin/env bash
# New webhooks only, on a PostgreSQL store, one replica: requests/s, p99,
# CPU per request of `serve` and of PostgreSQL (from /proc), calls per
# group commit, conflicts and the outbox rows written, on a throwaway
# server (scripts/postgres.sh), warmed first.
#
#   bench/pg_webhooks.sh [SECONDS] [extra serve flags...]    # default 4 s
#
# GLBRIDGE_BENCH_COLD=1 skips the warming; GLBRIDGE_BENCH_URL_SUFFIX is
# appended to the store URL (e.g. '?options=-c%20synchronous_commit%3Doff',
# to see what the commit's WAL flush costs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-4}; shift || true
cargo build --release -q -p glbridge-cli --bin glbridge --example webhook_requests
. bench/common.sh
url=$(scripts/postgres.sh start 2>"$work/pg.txt")${GLBRIDGE_BENCH_URL_SUFFIX:-}
pg_dir=$(awk '{print $3}' "$work/pg.txt")
trap 'scripts/postgres.sh stop "$pg_dir" 2>/dev/null || true; cleanup' EXIT
[ -n "${GLBRIDGE_BENCH_COLD:-}" ] || scripts/postgres.sh warm "$url"
target/release/examples/webhook_requests "$work/req.tsv" 200000 1000 whsec_load
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
pg_cpu() { local t=0 p; for p in $(pgrep -u "$(stat -c %U "$pg_dir")" postgres); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
port=$(free_port)
target/release/glbridge serve --listen "127.0.0.1:$port" --store "$url" --api-url http://127.0.0.1:9 \
    --api-key unused --webhook-signing-key whsec_load --insecure-no-gleap-auth "$@" >/dev/null 2>"$work/serve.log" &
spid=$!; pids+=("$spid"); wait_port "$port"
s0=$(cpu "$spid"); p0=$(pg_cpu)
out=$(GLBRIDGE_REQUESTS="$work/req.tsv" GLBRIDGE_WRK_THREADS=2 wrk -t2 -c32 -d"${secs}s" -s bench/webhooks.lua "http://127.0.0.1:$port" | grep '^RESULT')
s1=$(cpu "$spid"); p1=$(pg_cpu)
echo "$out"
n=$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "requests" { print $2 }')
echo "serve_us_per_request=$(( (s1 - s0) * 10000 / n )) postgres_us_per_request=$(( (p1 - p0) * 10000 / n )) $(group_stats "$port")"
# What the store holds: one outbox item per agent message accepted.
echo "outbox_rows=$(psql -qtA "$url" -c "SELECT count(*) FROM glbridge_kv WHERE key LIKE 'gleap/out/%'")"
