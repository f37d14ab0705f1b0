#!/usr/bin/env bash
# A scratch PostgreSQL primary with a streaming standby on this machine, to measure what a
# synchronous standby costs (the deployment the README recommends: no acknowledged decision
# lost on failover). Both clusters live under DIR and listen on loopback only.
#
#   bench/standby.sh start [--dir DIR] [--port P] [--shared-buffers SIZE]
#       initdb a primary on port P (default 5433) and a standby on P+1 made with
#       pg_basebackup, streaming as `standby1`; prints the primary's URL. Starts synchronous.
#   bench/standby.sh sync|async [--dir DIR]
#       the primary waits for the standby's flush on every commit (synchronous_standby_names
#       = 'standby1'), or does not (the standby still streams, so both cost the same CPU).
#   bench/standby.sh stop [--dir DIR]
#       stops both and removes DIR.
#
# Then, e.g.:  MAMORI_BENCH_PG_URL=$(bench/standby.sh start) bench/run.sh --engine postgres ...
# pgbench (bench/limit.sh) runs against the same primary, so the ratio compares like with like.
# Needs the PostgreSQL server binaries (pg_config --bindir) and, as root, the `postgres` user.
set -euo pipefail

cmd=${1:-}
[ $# -gt 0 ] && shift
dir=${TMPDIR:-/tmp}/mamori-standby
port=5433
shared_buffers=1GB
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --shared-buffers) shared_buffers=$2; shift 2 ;;
    *) echo "standby.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "standby.sh: no PostgreSQL server binaries found" >&2; exit 1; }

# PostgreSQL refuses to run as root: run its tools as `postgres` then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$(printf '%q ' "$@")"; else "$@"; fi
}

primary_url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"; }

set_sync() {
  psql "$(primary_url)" -qAtX -v ON_ERROR_STOP=1 \
    -c "ALTER SYSTEM SET synchronous_standby_names = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
  # The reload is asynchronous: wait until the standby's state says it took.
  want=$([ -n "$1" ] && echo sync || echo async)
  for _ in $(seq 1 100); do
    state=$(psql "$(primary_url)" -qAtX -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")
    [ "$state" = "$want" ] && { echo "standby1: $state" >&2; return 0; }
    sleep 0.1
  done
  echo "standby.sh: standby1 is '$state', not $want" >&2
  exit 1
}

case "$cmd" in
  start)
    [ -e "$dir" ] && { echo "standby.sh: $dir exists (stop first)" >&2; exit 1; }
    mkdir -p "$dir/primary" "$dir/standby"
    echo "$port" > "$dir/port"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    chmod 700 "$dir/primary" "$dir/standby"
    as_pg "$bindir/initdb" -D "$dir/primary" -A trust -U postgres >"$dir/initdb.log"
    cat >> "$dir/primary/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_buffers = $shared_buffers
max_connections = 200
wal_level = replica
max_wal_senders = 4
synchronous_commit = on
EOF
    echo "host replication postgres 127.0.0.1/32 trust" >> "$dir/primary/pg_hba.conf"
    as_pg "$bindir/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null
    as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$dir/standby" -R \
      -d "application_name=standby1"
    sed -i "s/^port = $port\$/port = $((port + 1))/" "$dir/standby/postgresql.conf"
    chmod 700 "$dir/standby"
    as_pg "$bindir/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w start >/dev/null
    set_sync standby1
    primary_url
    ;;
  sync) set_sync standby1 ;;
  async) set_sync '' ;;
  stop)
    for node in standby primary; do
      [ -d "$dir/$node" ] && as_pg "$bindir/pg_ctl" -D "$dir/$node" -m fast -w stop >/dev/null 2>&1 || true
    done
    rm -rf "$dir"
    ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
