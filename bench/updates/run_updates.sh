#!/usr/bin/env bash
# End-to-end update benchmark on tdsim (make bench runs it; not part of make test): 1,000 authorized
# sessions → the update log → readers by long polling (or the stream), on loopback only, bounded in time.
# Results: <build>/bench/updates_e2e.json and a table on stdout (figures in docs/PERFORMANCE.md, "Updates").
# Options after the build directory go to updates_e2e.py, e.g. `--channel stream`, `--runs 3`;
# UPDATES_BENCH_STEP_SECONDS (default 8) is the length of each step of the rate ladder.
set -euo pipefail
build="${1:-build}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
TGPULSE_BUILD_DIR="$(cd "$build" && pwd)" TGPULSE_SOURCE_DIR="$(cd "$here/../.." && pwd)" \
  python3 "$here/updates_e2e.py" --out "$(cd "$build" && pwd)/bench/updates_e2e.json" "$@"
