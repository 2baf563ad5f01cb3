#!/usr/bin/env bash
# Scale-out benchmarks on tdsim and a real PostgreSQL 15 (make bench runs it; not part of make test), on
# loopback only, each part bounded (a few minutes each on 2 cores): failover over 10 kill -9s, forwarding
# overhead, sessions and RSS per node at 1, 2 and 3 nodes. Results: <build>/bench/cluster_<part>.json and
# a summary on stdout (figures in docs/PERFORMANCE.md, "Scale-out").
# Options after the build directory go to cluster_e2e.py, e.g. `--lease-ttl 15`; with `--part failover`
# (or forward, spread) only that part runs.
set -euo pipefail
build="${1:-build}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
out="$(cd "$build" && pwd)/bench"
mkdir -p "$out"
parts=(failover forward spread)
if [ "${1:-}" = "--part" ]; then
  parts=("$2")
  shift 2
fi
for part in "${parts[@]}"; do
  echo "== cluster $part"
  TGPULSE_BUILD_DIR="$(cd "$build" && pwd)" TGPULSE_SOURCE_DIR="$(cd "$here/../.." && pwd)" \
    python3 "$here/cluster_e2e.py" "$part" --out "$out/cluster_$part.json" "$@"
done
