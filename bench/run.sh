#!/usr/bin/env bash
# One measured run of verifyOtp, with its reference measured in the same run:
#
#   1. builds the release binary (unless --mamori BIN or --no-build),
#   2. seeds a scratch database (a new PostgreSQL database, or a SQLite file in a temp dir)
#      with `mamori seed`,
#   3. starts `mamori serve` (release) on a free loopback port against it,
#   4. runs `mamori bench` at the given concurrency for the given time,
#   5. reads the server's peak RSS (VmHWM) and stops it,
#   6. runs bench/limit.sh for the engine (pgbench single-row UPDATEs at the same concurrency,
#      or SQLite's own single-commit rate in the same directory),
#   7. prints the figures and the ratio, and removes the scratch database.
#
# Usage: bench/run.sh [--engine postgres|sqlite] [--users N] [--tenants T] [--banks K]
#                     [--concurrency C] [--duration SECONDS] [--mix MIX] [--spend-window]
#                     [--rate R]
#                     [--mamori BIN | --no-build] [--keep] [--out FILE]
#   --tenants  banks seeded (default 1); --banks: how many of them the bench drives (default all)
#   --rate     offered requests/s in all, evenly spaced: compares two runs at the same load
#   --out      also write every figure as one JSON object
# PostgreSQL: MAMORI_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test) names the
# server and a database to connect to for creating and dropping the scratch database.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
engine=postgres
users=10000
tenants=1
banks=
concurrency=32
duration=15
mix=correct=100
spend_window=
rate=
mamori=
build=1
keep=
out=
pg_url=${MAMORI_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}

while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --tenants) tenants=$2; shift 2 ;;
    --banks) banks=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --mix) mix=$2; shift 2 ;;
    --spend-window) spend_window=--spend-window; shift ;;
    --rate) rate=$2; shift 2 ;;
    --mamori) mamori=$2; build=; shift 2 ;;
    --no-build) build=; shift ;;
    --keep) keep=1; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$engine" in postgres|sqlite) ;; *) echo "run.sh: --engine postgres|sqlite" >&2; exit 2 ;; esac

target=${CARGO_TARGET_DIR:-$repo/target}
if [ -n "$build" ]; then
  (cd "$repo" && cargo build --release -p mamori-server)
fi
mamori=${mamori:-$target/release/mamori}
[ -x "$mamori" ] || { echo "run.sh: no binary at $mamori (build it, or --mamori BIN)" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=
pg_db=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -z "$keep" ]; then
    if [ -n "$pg_db" ]; then
      psql "$pg_url" -q -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
  else
    echo "kept: $tmp ${pg_db:+and database $pg_db}" >&2
  fi
}
trap cleanup EXIT

if [ "$engine" = postgres ]; then
  pg_db="mamori_bench_$$"
  psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
  url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$pg_url" "$pg_db")
else
  url="sqlite://$tmp/mamori.db?mode=rwc"
fi
export MAMORI_MASTER_KEY_FILE="$tmp/master.key"
unset MAMORI_MASTER_KEY MAMORI_DATABASE_URL

echo "== seed: $engine, $tenants bank(s), $users user(s)" >&2
seed_started=$(date +%s.%N)
timeout 3600 "$mamori" seed --database-url "$url" --tenants "$tenants" --users "$users" \
  --secrets-out "$tmp/bench.secrets" >"$tmp/seed.out" 2>"$tmp/seed.log"
seed_s=$(python3 -c "import sys; print('%.1f' % ($(date +%s.%N) - $seed_started))")
cat "$tmp/seed.out" >&2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== serve on 127.0.0.1:$port" >&2
"$mamori" serve --listen "127.0.0.1:$port" --database-url "$url" \
  --tenant-configs "$repo/tenant-configs" >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: serve exited:" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "run.sh: serve not ready" >&2; exit 1; }
rss_start_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")

echo "== bench: concurrency $concurrency, ${duration}s, mix $mix" >&2
bench_status=0
timeout $(( duration + 120 )) "$mamori" bench --url "http://127.0.0.1:$port" --secrets "$tmp/bench.secrets" \
  --concurrency "$concurrency" --duration "${duration}s" --mix "$mix" ${banks:+--banks "$banks"} \
  $spend_window ${rate:+--rate "$rate"} --include-setup-check --json "$tmp/bench.json" >&2 || bench_status=$?
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
rss_end_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
[ -s "$tmp/bench.json" ] || { echo "run.sh: the bench wrote no report (exit $bench_status)" >&2; exit 1; }

echo "== limit" >&2
limits=$("$repo/bench/limit.sh" --only "$engine" --pg-url "$pg_url" --concurrency "$concurrency" \
  --duration "$duration" --sqlite-dir "$tmp" --mamori "$mamori")
limit=$(echo "$limits" | sed -n 's/^\(pgbench_tps\|sqlite_commits_per_s\)=//p')

python3 - "$tmp/bench.json" "$engine" "$limit" "$hwm_kb" "$rss_start_kb" "$rss_end_kb" "$seed_s" "$users" "$tenants" "$out" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
engine, limit = sys.argv[2], float(sys.argv[3])
hwm, rss0, rss1, seed_s = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
users, tenants, out = int(sys.argv[8]), int(sys.argv[9]), sys.argv[10]
name = "pgbench single-row UPDATE tps" if engine == "postgres" else "SQLite single-commit rate"
rps, ok = bench["requests_per_second"], bench["accepted_per_second"]
lat = bench["latency"]
summary = {
    "engine": engine, "users": users, "tenants": tenants, "banks_driven": bench["settings"]["banks"],
    "concurrency": bench["settings"]["concurrency"], "duration_s": bench["elapsed_s"],
    "seed_s": seed_s, "requests_per_second": rps, "accepted_per_second": ok,
    "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"], "p99_ms": lat["p99_ms"], "max_ms": lat["max_ms"],
    "limit_name": name, "limit": limit, "ratio": rps / limit if limit else None,
    "server_vmhwm_mb": hwm / 1024, "server_rss_start_mb": rss0 / 1024, "server_rss_end_mb": rss1 / 1024,
    "unexpected": bench["unexpected"], "skipped": bench["skipped"],
}
print(f"{engine}: {users} users at {tenants} bank(s) (driving {summary['banks_driven']}), "
      f"concurrency {summary['concurrency']}, {summary['duration_s']:.1f} s")
print(f"  verifyOtp      {rps:9.1f} requests/s ({ok:.1f} accepted/s)   "
      f"p50 {lat['p50_ms']:.2f} ms  p95 {lat['p95_ms']:.2f} ms  p99 {lat['p99_ms']:.2f} ms  max {lat['max_ms']:.2f} ms")
print(f"  reference      {limit:9.1f} ({name}, same machine, same run)")
print(f"  ratio          {rps / limit:9.3f}x" if limit else "  ratio          n/a")
print(f"  server RSS     peak {hwm / 1024:.1f} MB (start {rss0 / 1024:.1f} MB, end {rss1 / 1024:.1f} MB)")
print(f"  seed           {seed_s:.1f} s;  unexpected answers {bench['unexpected']};  not sent {bench['skipped']}")
if out:
    json.dump({"summary": summary, "bench": bench}, open(out, "w"), indent=2)
PY
exit "$bench_status"
