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
#      closed port and back off);
#   6. the webhook route on PostgreSQL (a throwaway server started by
#      scripts/postgres.sh, default settings: fsync and synchronous_commit
#      on; first warmed with 512 MB of WAL and a checkpoint, so that it has
#      WAL segments to reuse as a server that has run a while does, unless
#      GLBRIDGE_BENCH_COLD is set): one replica, then two replicas each sent
#      half the conversations by a wrk of their own (half the connections each), with commits per
#      group and conflicts from /metrics;
#   7. the cross-replica wake-up hop: a Gleap call parked on replica B
#      answered by a webhook posted to replica A (bench/hop.py).
# Each run starts after a `sync` (settle_disk). Prints requests/s, p50/p99
# and peak RSS of each, and the webhook route's
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
    settle_disk
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
settle_disk
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
settle_disk
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
settle_disk
echo "== Chatwoot route: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
GLBRIDGE_REQUESTS="$work/chatwoot.tsv" GLBRIDGE_WRK_THREADS=$THREADS \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/chatwoot.lua \
    "http://127.0.0.1:$port" >"$work/chatwoot.wrk"
echo "$(result "$work/chatwoot.wrk") peak_rss_mb=$(peak_rss_mb "$cw")" >"$work/chatwoot.res"
kill "$cw"; wait "$cw" 2>/dev/null || true
cat "$work/chatwoot.res"

echo "== PostgreSQL"
pg_url=$(scripts/postgres.sh start 2>"$work/pg.txt")
pg_dir=$(awk '{print $3}' "$work/pg.txt")
trap 'scripts/postgres.sh stop "$pg_dir" 2>/dev/null || true; cleanup' EXIT
[ -n "${GLBRIDGE_BENCH_COLD:-}" ] || scripts/postgres.sh warm "$pg_url"
database() { psql -q "$pg_url" -c "CREATE DATABASE $1" >/dev/null; echo "${pg_url%/*}/$1"; }
pg_serve() { # store label -> prints port, records pid
    local port; port=$(free_port)
    "$bin/glbridge" serve --listen "127.0.0.1:$port" --store "$1" \
        --api-url http://127.0.0.1:9 --api-key unused --webhook-signing-key "$KEY" \
        --insecure-no-gleap-auth >/dev/null 2>"$work/$2.log" &
    echo "$! $port"
}

read -r p1 port1 < <(pg_serve "$(database w1)" pg1)
pids+=("$p1"); wait_port "$port1"
settle_disk
echo "== webhook route on PostgreSQL, one replica: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
wrk_webhooks "$port1" "$work/pg1.wrk"
echo "$(result "$work/pg1.wrk") peak_rss_mb=$(peak_rss_mb "$p1") $(group_stats "$port1")" >"$work/pg1.res"
kill "$p1"; wait "$p1" 2>/dev/null || true
cat "$work/pg1.res"

db2=$(database w2)
read -r pa porta < <(pg_serve "$db2" pg2a)
read -r pb portb < <(pg_serve "$db2" pg2b)
pids+=("$pa" "$pb"); wait_port "$porta"; wait_port "$portb"
# Even conversations to one replica, odd to the other (line i is conversation i % 1000).
awk 'NR % 2 == 1' "$work/requests.tsv" >"$work/requests-a.tsv"
awk 'NR % 2 == 0' "$work/requests.tsv" >"$work/requests-b.tsv"
half=$(( (CONNECTIONS + 1) / 2 ))
settle_disk
echo "== webhook route on PostgreSQL, two replicas: 2 x wrk -t1 -c$half -d$DURATION"
GLBRIDGE_REQUESTS="$work/requests-a.tsv" GLBRIDGE_WRK_THREADS=1 \
    wrk -t1 -c"$half" -d"$DURATION" --latency -s bench/webhooks.lua "http://127.0.0.1:$porta" >"$work/pg2a.wrk" &
wa=$!
GLBRIDGE_REQUESTS="$work/requests-b.tsv" GLBRIDGE_WRK_THREADS=1 \
    wrk -t1 -c"$half" -d"$DURATION" --latency -s bench/webhooks.lua "http://127.0.0.1:$portb" >"$work/pg2b.wrk"
wait "$wa"
python3 - "$(result "$work/pg2a.wrk")" "$(result "$work/pg2b.wrk")" "$(group_stats "$porta" "$portb")" >"$work/pg2.res" <<'PY'
import sys
a, b = (dict(kv.split("=") for kv in r.split()) for r in sys.argv[1:3])
# p50/p99: the worse of the two replicas.
print(f"rps={float(a['rps']) + float(b['rps']):.0f} p50_ms={max(float(a['p50_ms']), float(b['p50_ms']))} "
      f"p99_ms={max(float(a['p99_ms']), float(b['p99_ms']))} non2xx={int(a['non2xx']) + int(b['non2xx'])} {sys.argv[3]}")
PY
echo "$(cat "$work/pg2.res") peak_rss_mb=$(( $(peak_rss_mb "$pa") + $(peak_rss_mb "$pb") ))" >"$work/pg2.res"
kill "$pa" "$pb"; wait "$pa" "$pb" 2>/dev/null || true
cat "$work/pg2.res"

echo "== cross-replica wake-up hop (Gleap call on B, webhook to A)"
sport=$(free_port)
"$bin/glbridge" sandbox --listen "127.0.0.1:$sport" --integration-key sk_hop --signing-key "$KEY" \
    --webhook-url http://127.0.0.1:9/unused >/dev/null 2>"$work/hop-sandbox.log" &
sp=$!; pids+=("$sp"); wait_port "$sport"
db3=$(database w3)
hop_serve() {
    local port; port=$(free_port)
    "$bin/glbridge" serve --listen "127.0.0.1:$port" --store "$db3" \
        --api-url "http://127.0.0.1:$sport" --api-key sk_hop --webhook-signing-key "$KEY" \
        --gleap-secret "Bearer hop" >/dev/null 2>"$work/hop-$1.log" &
    echo "$! $port"
}
read -r ha hporta < <(hop_serve a)
read -r hb hportb < <(hop_serve b)
pids+=("$ha" "$hb"); wait_port "$hporta"; wait_port "$hportb"
python3 bench/hop.py "http://127.0.0.1:$hporta" "http://127.0.0.1:$hportb" "$KEY" "Bearer hop" "${HOP_SAMPLES:-200}" | grep '^RESULT' | sed 's/^RESULT //' >"$work/hop.res"
kill "$ha" "$hb" "$sp"; wait "$ha" "$hb" "$sp" 2>/dev/null || true
cat "$work/hop.res"

echo
echo "| run | requests/s | p50 | p99 | non-2xx | peak RSS |"
echo "|---|---|---|---|---|---|"
for r in webhooks webhooks-fsync reference gleap chatwoot pg1 pg2; do
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
for r in pg1 pg2; do
    echo "PostgreSQL $r: $(field "$(cat "$work/$r.res")" calls_per_group) calls per group commit, $(field "$(cat "$work/$r.res")" conflicts) conflicts; / native reference: $(python3 -c "print(f'{$(field "$(cat "$work/$r.res")" rps) / $(field "$(cat "$work/reference.res")" rps):.2f}x')")"
done
echo "cross-replica wake-up hop: p50 $(field "$(cat "$work/hop.res")" hop_p50_ms) ms, p99 $(field "$(cat "$work/hop.res")" hop_p99_ms) ms, max $(field "$(cat "$work/hop.res")" hop_max_ms) ms ($(field "$(cat "$work/hop.res")" n) samples)"
