#!/usr/bin/env python3
"""Where a verifyOtp's time goes, measured from outside on PostgreSQL.

One run of `mamori bench` against a seeded scratch database, bracketed by readings of:

  * CPU seconds of the server, of every PostgreSQL process and of the load generator
    (/proc/<pid>/stat), per 1,000 answered checks;
  * PostgreSQL's own counters for the scratch database: commits, rows inserted / updated /
    deleted, WAL bytes (pg_current_wal_lsn), and how many updates were HOT, per check;
  * optionally a `perf record` of the server (--perf), summarised by symbol, and of the
    PostgreSQL backends serving the scratch database (--perf-postgres);

then the same readings for pgbench's single-row UPDATE (bench/limit.sh's reference) at the
same concurrency, so a check's cost is printed next to the reference's cost per transaction.

Usage: bench/profile.py [--mamori BIN] [--users N] [--tenants T] [--concurrency C]
                        [--duration SECONDS] [--mix MIX] [--perf] [--perf-postgres]
The database server is MAMORI_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test);
a scratch database is created and dropped. Loopback only; bounded by --duration and timeouts.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get("MAMORI_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")


def psql(url, sql):
    out = subprocess.run(
        ["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return out.stdout.strip()


def with_db(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def cpu_seconds(pid):
    """utime + stime of one process, in seconds; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def postgres_cpu():
    """CPU seconds of every PostgreSQL process (backends, WAL writer, checkpointer...), keyed by
    pid; the key "reaped" holds what the postmaster's ended children used (pgbench's backends
    end with its connections)."""
    total = {}
    postgres = _postgres_pids()
    for pid in postgres:
        entry = str(pid)
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total[entry] = (int(fields[11]) + int(fields[12])) / TICKS
        if int(fields[1]) not in postgres:
            # The postmaster: its children's times accrue to cutime/cstime when they end.
            total["reaped"] = total.get("reaped", 0.0) + (int(fields[13]) + int(fields[14])) / TICKS
    return total


def _postgres_pids():
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.add(int(entry))
            except OSError:
                pass
    return pids


def wal_lsn(url):
    return psql(url, "SELECT pg_current_wal_lsn()")


def wal_breakdown(url, start, end, top=8):
    """pg_waldump --stats=record between two LSNs: (record type, count, record bytes, full-page
    image bytes), largest first. Empty when pg_waldump or the WAL directory is not at hand."""
    data_dir = psql(url, "SHOW data_directory")
    tools = sorted(d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()) if os.path.isdir("/usr/lib/postgresql") else []
    waldump = shutil.which("pg_waldump") or (f"/usr/lib/postgresql/{tools[-1]}/bin/pg_waldump" if tools else None)
    if not waldump or not os.access(os.path.join(data_dir, "pg_wal"), os.R_OK):
        return []
    out = subprocess.run([waldump, "--stats=record", "-p", os.path.join(data_dir, "pg_wal"), "-s", start, "-e", end],
                         capture_output=True, text=True, timeout=300).stdout
    # "Heap/UPDATE   123 (  1.20)   4567 (  3.40)   890 (  5.60) ...": type, N, record and FPI bytes
    line_re = re.compile(r"^(\S+/\S+)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)")
    rows = []
    for line in out.splitlines():
        m = line_re.match(line)
        if m:
            rows.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))))
    rows.sort(key=lambda r: r[2] + r[3], reverse=True)
    return rows[:top]


def pg_counters(url, db):
    row = psql(url, f"""
        SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_fetched,
               pg_current_wal_lsn() - '0/0'::pg_lsn
        FROM pg_stat_database WHERE datname = '{db}'""")
    commits, ins, upd, dele, fetched, wal = (int(float(x)) for x in row.split("|"))
    hot = psql(url, f"SELECT coalesce(sum(n_tup_hot_upd), 0) FROM pg_stat_user_tables") if db else "0"
    return {"commits": commits, "inserted": ins, "updated": upd, "deleted": dele,
            "fetched": fetched, "wal_bytes": wal, "hot_updates": int(hot)}


def diff(after, before):
    return {k: after[k] - before[k] for k in after}


def pg_cpu_delta(after, before):
    # A backend that started during the run counts from zero.
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(url, server):
    for _ in range(600):
        if server.poll() is not None:
            sys.exit("profile: serve exited before it was ready")
        try:
            urllib.request.urlopen(url + "/readyz", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("profile: serve not ready")


def perf_summary(data, top, children):
    report = subprocess.run(
        ["perf", "report", "-i", data, "--children" if children else "--no-children", "-g", "none",
         "--sort", "dso,symbol", "--stdio", "--percent-limit", "0.7"],
        capture_output=True, text=True, timeout=300,
    ).stdout
    lines = [l for l in report.splitlines() if l.strip() and not l.startswith("#")]
    return lines[:top]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mamori", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "mamori"))
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--tenants", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--mix", default="correct=100")
    ap.add_argument("--perf", action="store_true", help="also sample the server with perf record")
    ap.add_argument("--perf-children", action="store_true",
                    help="with --perf: record call graphs (DWARF unwinding) and rank functions by the "
                         "share of samples they are on the stack of")
    ap.add_argument("--perf-postgres", action="store_true",
                    help="also sample the PostgreSQL backends of the scratch database with perf record")
    args = ap.parse_args()
    if not os.access(args.mamori, os.X_OK):
        sys.exit(f"profile: no binary at {args.mamori} (cargo build --release -p mamori-server)")

    tmp = tempfile.mkdtemp(prefix="mamori-profile-")
    db = f"mamori_profile_{os.getpid()}"
    psql(PG_URL, f"CREATE DATABASE {db}")
    url = with_db(PG_URL, db)
    env = dict(os.environ, MAMORI_MASTER_KEY_FILE=os.path.join(tmp, "master.key"))
    env.pop("MAMORI_MASTER_KEY", None)
    env.pop("MAMORI_DATABASE_URL", None)
    server = None
    try:
        print(f"== seed: {args.tenants} bank(s), {args.users} users", file=sys.stderr)
        secrets = os.path.join(tmp, "bench.secrets")
        subprocess.run([args.mamori, "seed", "--database-url", url, "--tenants", str(args.tenants),
                        "--users", str(args.users), "--secrets-out", secrets],
                       check=True, env=env, timeout=3600, stdout=subprocess.DEVNULL,
                       stderr=open(os.path.join(tmp, "seed.log"), "w"))
        psql(url, "VACUUM ANALYZE")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [args.mamori, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", url,
             "--tenant-configs", os.path.join(REPO, "tenant-configs")],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
        wait_ready(base, server)

        report = os.path.join(tmp, "bench.json")
        before_pg, before_db, start_lsn = postgres_cpu(), pg_counters(url, db), wal_lsn(url)
        before_server = cpu_seconds(server.pid)
        perf = None
        if args.perf:
            perf_data = os.path.join(tmp, "perf.data")
            graph = ["--call-graph", "dwarf,16384"] if args.perf_children else []
            perf = subprocess.Popen(["perf", "record", "-F", "499", *graph, "-p", str(server.pid), "-o", perf_data,
                                     "--", "sleep", str(args.duration)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        bench = subprocess.Popen([args.mamori, "bench", "--url", base, "--secrets", secrets,
                                  "--concurrency", str(args.concurrency), "--duration", f"{args.duration}s",
                                  "--mix", args.mix, "--spend-window", "--json", report],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pg_perf = None
        if args.perf_postgres:
            # The backends connect as the load starts; sample those of this database only.
            time.sleep(min(2, args.duration / 4))
            pids = psql(url, f"SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE datname = '{db}' "
                             "AND pid <> pg_backend_pid()")
            pg_perf_data = os.path.join(tmp, "perf-postgres.data")
            pg_perf = subprocess.Popen(["perf", "record", "-F", "499", "-p", pids, "-o", pg_perf_data,
                                        "--", "sleep", str(max(1, args.duration - 4))],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(bench.pid, 0)
        bench.returncode = status
        elapsed = time.monotonic() - started
        after_server = cpu_seconds(server.pid)
        after_pg, after_db, end_lsn = postgres_cpu(), pg_counters(url, db), wal_lsn(url)
        unsealed = int(psql(url, "SELECT count(*) FROM audit_pending"))
        for recording in (perf, pg_perf):
            if recording:
                recording.wait(timeout=args.duration + 60)
        result = json.load(open(report))
        checks = result["requests"] if "requests" in result else round(result["requests_per_second"] * result["elapsed_s"])
        db_delta = diff(after_db, before_db)
        cpu = {
            "server": after_server - before_server,
            "postgres": pg_cpu_delta(after_pg, before_pg),
            "load generator": usage.ru_utime + usage.ru_stime,
        }
        server.terminate()
        server.wait(timeout=60)
        server = None

        print(f"== reference: pgbench single-row UPDATE, {args.concurrency} clients, {args.duration}s", file=sys.stderr)
        schema = f"mamori_profile_ref_{os.getpid()}"
        psql(url, f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.counter (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);"
                  f"INSERT INTO {schema}.counter (id) SELECT generate_series(1, 16)")
        script = os.path.join(tmp, "update.sql")
        with open(script, "w") as f:
            f.write(f"\\set id random(1, 16)\nUPDATE {schema}.counter SET n = n + 1 WHERE id = :id;\n")
        ref_pg, ref_db = postgres_cpu(), pg_counters(url, db)
        ref_started = time.monotonic()
        pgb = subprocess.Popen(["pgbench", "-n", "-c", str(args.concurrency), "-j", "2", "-T", str(args.duration),
                                "-f", script, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = pgb.communicate(timeout=args.duration + 60)
        ref_elapsed = time.monotonic() - ref_started
        ref_pg_cpu = pg_cpu_delta(postgres_cpu(), ref_pg)
        ref_delta = diff(pg_counters(url, db), ref_db)
        tx = next((int(l.split(":")[1]) for l in out.splitlines()
                   if l.startswith("number of transactions actually processed")), 0)
        tps = next((float(l.split()[2]) for l in out.splitlines() if l.startswith("tps =")), 0.0)

        per = lambda v, n: v / n if n else float("nan")
        print(f"verifyOtp on PostgreSQL: {args.users} users at {args.tenants} bank(s), {args.concurrency} clients, mix {args.mix}")
        print(f"  checks answered        {checks} in {elapsed:.1f} s = {checks / elapsed:.0f}/s "
              f"(p50 {result['latency']['p50_ms']:.1f} ms, p99 {result['latency']['p99_ms']:.1f} ms)")
        print(f"  pgbench reference      {tx} in {ref_elapsed:.1f} s = {tps:.0f}/s  -> ratio {checks / elapsed / tps:.3f}x" if tps else "  pgbench gave no tps")
        print("  CPU ms per check       " + ", ".join(f"{k} {per(v, checks) * 1000:.2f}" for k, v in cpu.items())
              + f"  (machine: {os.cpu_count()} cores = {os.cpu_count() * 1000 / (checks / elapsed):.2f} ms per check available)")
        print(f"  CPU ms per pgbench tx  postgres {per(ref_pg_cpu, tx) * 1000:.2f}")
        print("  PostgreSQL per check   " + ", ".join(
            f"{k} {per(v, checks):.2f}" for k, v in db_delta.items() if k != "fetched")
              + f", fetched {per(db_delta['fetched'], checks):.1f}")
        print("  PostgreSQL per pgbench " + ", ".join(f"{k} {per(v, tx):.2f}" for k, v in ref_delta.items() if k != "fetched"))
        print(f"  unsealed audit entries at the end: {unsealed}")
        tables = psql(url, "SELECT relname, n_tup_upd, n_tup_hot_upd, n_tup_ins, n_tup_del FROM pg_stat_user_tables "
                           "WHERE n_tup_upd + n_tup_ins + n_tup_del > 0 AND schemaname = 'public' ORDER BY relname")
        print("  table writes (run + seed): relname|updated|hot|inserted|deleted")
        for line in tables.splitlines():
            print("    " + line)
        breakdown = wal_breakdown(url, start_lsn, end_lsn)
        if breakdown:
            print("  WAL per check by record type (pg_waldump): type  records  record bytes  full-page image bytes")
            for kind, n, rec, fpi in breakdown:
                print(f"    {kind:28} {per(n, checks):6.2f} {per(rec, checks):9.0f} {per(fpi, checks):9.0f}")
        if args.perf:
            print("  server CPU by symbol (perf, >0.7%):")
            for line in perf_summary(perf_data, 60 if args.perf_children else 40, args.perf_children):
                print("    " + " ".join(line.split()[:3]) + " " + line.split("]", 1)[-1].strip()[:110])
        if args.perf_postgres:
            print("  PostgreSQL backends' CPU by symbol (perf, >0.7%):")
            for line in perf_summary(pg_perf_data, 50, False):
                print("    " + " ".join(line.split()[:3]) + " " + line.split("]", 1)[-1].strip()[:110])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        psql(PG_URL, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if os.environ.get("MAMORI_PROFILE_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
