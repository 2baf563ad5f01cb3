#!/usr/bin/env bash
# End-to-end throttle benchmark on tdsim (make bench runs it): throttling off vs on at twice the load
# tdsim's flood limits allow, and 10,000 invokes waiting in the throttle while /healthz is timed.
# Results: <build>/bench/throttle_e2e.json and a table on stdout (figures in docs/throttling.md).
set -euo pipefail
build="${1:-build}"
here="$(cd "$(dirname "$0")" && pwd)"
TGPULSE_BUILD_DIR="$(cd "$build" && pwd)" TGPULSE_SOURCE_DIR="$(cd "$here/../.." && pwd)" \
  python3 "$here/throttle_e2e.py" "$(cd "$build" && pwd)/bench/throttle_e2e.json"
