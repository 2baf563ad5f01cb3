#!/usr/bin/env bash
# Runs fuzz targets one after the other, each for SECONDS, at the lowest CPU priority, on a copy of its
# committed corpus (fuzz/corpus/<target>/ never grows by accident). Fails on the first crash, leak,
# undefined behaviour, timeout or out-of-memory; the reproducer is left in <build>/fuzz-artifacts/.
#   fuzz/run.sh BUILD_DIR SECONDS TARGET...
set -euo pipefail
build=$1 seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
artifacts="$build/fuzz-artifacts" logs="$build/fuzz-logs"
mkdir -p "$artifacts" "$logs"
for t in "$@"; do
  bin="$build/fuzz/${t}_fuzzer"
  [ -x "$bin" ] || { echo "fuzz: $bin is not built" >&2; exit 1; }
  work=$(mktemp -d "$build/fuzz-corpus-$t.XXXXXX")
  cp -r "$src/corpus/$t/." "$work/"
  dict=()
  [ -f "$src/$t.dict" ] && dict=(-dict="$src/$t.dict")
  echo "fuzz: $t for ${seconds}s (log: $logs/$t.log)"
  status=0
  nice -n 19 "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t-" "${dict[@]}" "$work" >"$logs/$t.log" 2>&1 || status=$?
  grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$logs/$t.log" | tail -1 || true
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$logs/$t.log" || true
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $status); the end of its log:" >&2
    tail -40 "$logs/$t.log" >&2
    exit 1
  fi
done
