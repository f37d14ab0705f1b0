#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain and
# runs each for a set time. Prints, per target, the executions and what it found; exits non-zero
# when any target crashed (a property failed), timed out or ran out of memory.
#
#   fuzz/run.sh [seconds-per-target] [target ...]     (default: 60 s, every target)
#
# Builds go to $MAMORI_FUZZ_TARGET_DIR (default ~/.cache/mamori-fuzz-target), never the
# product's target dir: the instrumentation flags would otherwise rebuild its every crate. The
# corpus a run grows is kept there too, per target, beside the seeds committed in
# fuzz/corpus/<target>/; a finding's input is written to <target dir>/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: fuzz/run.sh [seconds-per-target] [target ...]" >&2
  exit 2
fi
all_targets=(code credential_id otpauth_uri tenant_toml transaction_json request_body)
targets=("${@:-${all_targets[@]}}")

export CARGO_TARGET_DIR="${MAMORI_FUZZ_TARGET_DIR:-$HOME/.cache/mamori-fuzz-target}"
export CARGO_INCREMENTAL=0
# What cargo-fuzz passes for libFuzzer, minus its nightly-only -Zsanitizer: SanitizerCoverage's
# counters, PC table and comparison tracing, plus debug assertions and overflow checks so a
# wrapped integer is a finding too. `--cfg fuzzing` is what libfuzzer-sys and others key on.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps those flags off build scripts and proc macros, which are not linked
# with libFuzzer (cargo applies RUSTFLAGS to host artifacts only without one).
host="$(rustc -vV | sed -n 's/^host: //p')"

echo "== building fuzz targets (target dir $CARGO_TARGET_DIR)"
build_start=$SECONDS
bin_args=()
for target in "${targets[@]}"; do bin_args+=(--bin "$target"); done
cargo build --release --target "$host" "${bin_args[@]}"
echo "built in $((SECONDS - build_start)) s"

bin_dir="$CARGO_TARGET_DIR/$host/release"
failed=0
summary=()
for target in "${targets[@]}"; do
  work="$CARGO_TARGET_DIR/corpus/$target"
  artifacts="$CARGO_TARGET_DIR/artifacts/$target"
  log="$CARGO_TARGET_DIR/logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  dict=()
  if [ -f "dict/$target.dict" ]; then dict=(-dict="dict/$target.dict"); fi
  marker="$CARGO_TARGET_DIR/logs/$target.started"
  touch "$marker"
  echo "== $target: ${seconds} s"
  status=0
  # New inputs go to the first directory (the work corpus); the committed seeds are read only.
  "$bin_dir/$target" "$work" "corpus/$target" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  found=$(find "$artifacts" -type f -newer "$marker" | wc -l)
  corpus=$(find "$work" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
    failed=1
    echo "!! $target failed (exit $status); the log is $log. Its end:"
    grep -v '^#[0-9]' "$log" | tail -n 40
    find "$artifacts" -type f -newer "$marker" | sed 's/^/   finding: /'
  fi
  summary+=("$(printf '%-18s %6s s %14s execs %8s corpus %3s findings' \
    "$target" "$seconds" "${execs:-?}" "$corpus" "$found")")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found a problem: reproduce with <target dir>/$host/release/<target> <artifact>" >&2
  exit 1
fi
