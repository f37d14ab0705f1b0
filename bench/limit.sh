#!/usr/bin/env bash
# The references a `mamori bench` figure is a ratio of, measured on this machine now:
#
#   PostgreSQL  pgbench, one single-row UPDATE per transaction (16 rows, random row), at the
#               bench's concurrency, in a scratch schema created here and dropped after.
#   SQLite      its own single-commit rate in a directory (the disk the database is on), opened
#               as Mamori opens it: WAL, synchronous=FULL, BEGIN IMMEDIATE … COMMIT
#               (`mamori bench limit-sqlite`).
#
# Usage: bench/limit.sh [--pg-url URL] [--concurrency C] [--duration SECONDS]
#                       [--sqlite-dir DIR] [--mamori BIN] [--only postgres|sqlite]
# Prints `pgbench_tps=<x>` and `sqlite_commits_per_s=<y>` on standard output (the details go to
# standard error). Bounded: each measurement runs DURATION seconds, under a timeout.
# The SQLite measurement runs `mamori`: --mamori BIN, else MAMORI_BIN, else `mamori` on the PATH,
# else this checkout's release build.
set -euo pipefail

pg_url=${MAMORI_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
concurrency=32
duration=15
sqlite_dir=.
mamori=${MAMORI_BIN:-mamori}
only=

while [ $# -gt 0 ]; do
  case "$1" in
    --pg-url) pg_url=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --sqlite-dir) sqlite_dir=$2; shift 2 ;;
    --mamori) mamori=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "limit.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$only" != sqlite ]; then
  schema="mamori_limit_$$"
  script=$(mktemp)
  cleanup_pg() {
    psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -f "$script"
  }
  trap cleanup_pg EXIT
  psql "$pg_url" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE SCHEMA $schema;
CREATE TABLE $schema.counter (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO $schema.counter (id) SELECT generate_series(1, 16);
SQL
  cat > "$script" <<SQL
\set id random(1, 16)
UPDATE $schema.counter SET n = n + 1 WHERE id = :id;
SQL
  threads=$(( concurrency < 2 ? concurrency : 2 ))
  out=$(timeout $(( duration + 60 )) pgbench -n -c "$concurrency" -j "$threads" -T "$duration" -f "$script" "$pg_url" 2>&1)
  echo "$out" | grep -E '^(number of clients|number of transactions actually processed|latency average|tps)' >&2 || true
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p')
  if [ -z "$tps" ]; then
    echo "limit.sh: pgbench gave no tps:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "pgbench_tps=$tps"
fi

if [ "$only" != postgres ]; then
  # Without --mamori or MAMORI_BIN: `mamori` on the PATH, else this checkout's release build.
  if [ "$mamori" = mamori ] && ! command -v mamori >/dev/null 2>&1; then
    repo=$(cd "$(dirname "$0")/.." && pwd)
    mamori=${CARGO_TARGET_DIR:-$repo/target}/release/mamori
    [ -x "$mamori" ] || {
      echo "limit.sh: SQLite's rate is measured by \`mamori bench limit-sqlite\`: put mamori on the" \
        "PATH, pass --mamori BIN, or build it (cargo build --release -p mamori-server)" >&2
      exit 1
    }
  fi
  json=$(mktemp)
  timeout $(( duration + 60 )) "$mamori" bench limit-sqlite --dir "$sqlite_dir" --duration "${duration}s" --json "$json" >&2
  rate=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["commits_per_second"])' "$json")
  rm -f "$json"
  echo "sqlite_commits_per_s=$rate"
fi
