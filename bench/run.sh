#!/usr/bin/env bash
# make bench: runs every Google Benchmark binary declared with tgpulse_bench(), writing JSON and text
# results to <build>/bench/. Repetitions report medians; see docs/PERFORMANCE.md for the figures.
set -euo pipefail
build="${1:-build}"
out="${build}/bench"
mkdir -p "$out"
for b in $(find "$build/bench" -maxdepth 3 -type f -executable -name '*_bench' | sort); do
  name="$(basename "$b")"
  echo "== $name"
  "$b" --benchmark_repetitions="${BENCH_REPETITIONS:-5}" --benchmark_report_aggregates_only=true \
       --benchmark_out="$out/$name.json" --benchmark_out_format=json | tee "$out/$name.txt"
done
for s in bench/*/run_*.sh; do
  [ -f "$s" ] || continue
  echo "== $s"
  bash "$s" "$build"
done
