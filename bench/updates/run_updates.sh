#!/usr/bin/env bash
# End-to-end update benchmark on tdsim (make bench runs it; not part of make test): 1,000 authorized
# sessions → the update log → readers by long polling, then the same to webhook receivers, on loopback
# only, bounded in time (~2.5 + ~3 min). Results: <build>/bench/updates_e2e.json (long polling) and
# updates_e2e_webhook.json, a table each on stdout (figures in docs/PERFORMANCE.md, "Updates").
# Options after the build directory go to updates_e2e.py, e.g. `--runs 3`; with `--channel stream` (or
# long_poll, webhook) only that channel runs, into updates_e2e.json.
# UPDATES_BENCH_STEP_SECONDS (default 8) is the length of each step of the rate ladder.
set -euo pipefail
build="${1:-build}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
out="$(cd "$build" && pwd)/bench"
mkdir -p "$out"
run() {
  TGPULSE_BUILD_DIR="$(cd "$build" && pwd)" TGPULSE_SOURCE_DIR="$(cd "$here/../.." && pwd)" \
    python3 "$here/updates_e2e.py" "$@"
}
case " $* " in
  *" --channel"*) run --out "$out/updates_e2e.json" "$@" ;;
  *) run --out "$out/updates_e2e.json" "$@"
     run --out "$out/updates_e2e_webhook.json" --channel webhook "$@" ;;
esac
