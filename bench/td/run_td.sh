#!/usr/bin/env bash
# Engine and tdsim capacity figures (docs/PERFORMANCE.md, "Engine and tdsim"):
#   10,000 tdsim clients to WaitPhoneNumber through the Engine, and through the bare C API (the
#   difference is the engine's memory per client); RSS per real TDLib client at 100 and 500 clients
#   offline (skipped when third_party/tdlib/libtdjson.so is absent). Results: <build>/bench/td_capacity.jsonl
set -euo pipefail
build="${1:-build}"
out="$build/bench"
mkdir -p "$out"
cap="$build/bench/td/td_capacity"
tdsim="$build/libtdsim.so"
tdjson="${TGPULSE_TDJSON:-third_party/tdlib/libtdjson.so}"
n="${TD_BENCH_CLIENTS:-10000}"
: > "$out/td_capacity.jsonl"
run() { "$cap" "$@" | tee -a "$out/td_capacity.jsonl"; }
run engine-tdsim "$tdsim" "$n"
run raw "$tdsim" "$n"
if [ -f "$tdjson" ]; then
  for clients in ${TD_BENCH_TDJSON_CLIENTS:-100 500}; do
    run raw "$tdjson" "$clients"
  done
fi
python3 - "$out/td_capacity.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
eng = next((r for r in rows if r["mode"] == "engine" and r["library"] == "libtdsim.so"), None)
raw = next((r for r in rows if r["mode"] == "raw" and r["library"] == "libtdsim.so"), None)
if eng and raw:
    per = (eng["heap_bytes_delta"] - raw["heap_bytes_delta"]) / eng["clients"]
    print(f"tdsim: {eng['clients']} clients to WaitPhoneNumber via the engine in {eng['seconds']:.2f} s "
          f"({eng['clients'] / eng['seconds']:.0f}/s); engine heap per client ~{per:.0f} B")
for r in rows:
    if r["library"] != "libtdsim.so":
        print(f"{r['library']}: {r['clients']} clients, RSS +{r['rss_kib_delta'] / 1024:.1f} MiB "
              f"= {r['rss_kib_delta'] / r['clients']:.0f} KiB per client; WaitPhoneNumber after {r['seconds']:.1f} s")
PY
