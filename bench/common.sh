# Shell helpers shared by the load scripts (sourced, not run): a scratch
# directory and the servers started in it, both cleaned up on exit, and
# loopback ports.

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits (up to a minute) until something listens on port $1.
wait_port() {
    for _ in $(seq 1200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# Before each measured run: the runs before it have their writes on disk,
# not still being flushed beside this one.
settle_disk() { sync; }

metric_of() { # port name: a metric's value (summed over its labels)
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
print(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.split("{")[0].split(" ")[0] == sys.argv[2]))
PY
}
group_stats() { # port...: calls per group commit, conflicts
    local calls=0 groups=0 conflicts=0 p
    for p in "$@"; do
        calls=$(python3 -c "print($calls + $(metric_of "$p" glbridge_commit_group_calls_sum))")
        groups=$(python3 -c "print($groups + $(metric_of "$p" glbridge_commit_group_calls_count))")
        conflicts=$(python3 -c "print($conflicts + $(metric_of "$p" glbridge_store_conflicts_total))")
    done
    python3 -c "print(f'calls_per_group={$calls / max($groups, 1):.1f} conflicts={int($conflicts)}')"
}
