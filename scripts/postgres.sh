#!/usr/bin/env bash
# A throwaway PostgreSQL for trying `glbridge serve` replicas (and for
# bench/load.sh): a new cluster in a temporary directory, on a loopback
# port, trusting local connections. Prints the store URL.
#
#   scripts/postgres.sh start [PORT]   # prints postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/postgres.sh stop DIR       # DIR is printed by start (stderr)
#   scripts/postgres.sh warm URL [MB]  # default 512: see below
#
# `warm` writes MB of WAL and checkpoints, so that the server keeps that
# much in WAL segments to reuse, as a server does once it has run under a
# load for a while. A new cluster has none: under a stream of commits each
# new 16 MiB segment is first written with zeros and fsynced by whichever
# commit needs it, which only a server's first minutes see.
#
# Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin; installs
# the `postgresql` package when there are none). initdb refuses to run as
# root, so as root the server runs as the `postgres` user.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
start)
    port=${2:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    dir=$(mktemp -d /tmp/glbridge-pg.XXXXXX)
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    echo "PostgreSQL in $dir (stop: $0 stop $dir)" >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
warm)
    url=${2:?usage: $0 warm URL [MB]}
    mb=${3:-512}
    "$bin/psql" -qtA "$url" >/dev/null <<SQL
CREATE TABLE glbridge_warm AS SELECT repeat('w', 1000) AS filler FROM generate_series(1, $mb * 1000);
DROP TABLE glbridge_warm;
CHECKPOINT;
SQL
    ;;
stop)
    dir=${2:?usage: $0 stop DIR}
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    rm -rf "$dir"
    ;;
*)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
