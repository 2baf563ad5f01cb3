#!/usr/bin/env bash
# make demo: tgpulse on the built-in Telegram simulator (tdsim) and SQLite, a background load that logs
# tenants in and calls methods hard enough to meet FloodWaits, a QR login every 20 s logged out once the
# simulated phone has scanned it (session cleanups), Prometheus with the shipped rules and consoles (the seed's four panels, the SLO
# row) and Alertmanager — every process on 127.0.0.1. Prints the URLs and runs until Ctrl-C, which stops
# every process it started.
#
#   scripts/demo.sh [BUILD_DIR]        BUILD_DIR defaults to build (relative to the repository root)
#
# Environment (all optional):
#   TGPULSE_DEMO_PORT               tgpulse's port (default 8080; 0 = any free port)
#   TGPULSE_DEMO_PROMETHEUS_PORT    Prometheus' port (default 9090; 0 = any free port)
#   TGPULSE_DEMO_ALERTMANAGER_PORT  Alertmanager's port (default 9093; 0 = any free port)
#   TGPULSE_DEMO_DIR                state and logs (default .demo in the repository root)
#   TGPULSE_ADMIN_TOKEN             admin token (default: generated once, kept in $TGPULSE_DEMO_DIR/admin-token)
#   TGPULSE_DEMO_LOAD_RATE          requests per second of the background load (default 15)
#   TDSIM_PROFILE                   simulator profile (default src/tdsim/profiles/demo.yaml)
# A port that is taken is replaced by a free one; the URLs printed are the ones in use.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="${here}/${build}" ;; esac
tgpulse="${build}/tgpulse"
tdsim="${build}/libtdsim.so"
demo_dir="${TGPULSE_DEMO_DIR:-${here}/.demo}"
run_dir="${demo_dir}/run"
host=127.0.0.1

die() { echo "demo: $*" >&2; exit 1; }
[ -x "$tgpulse" ] || die "no service binary at ${tgpulse} (run make first)"
[ -f "$tdsim" ] || die "no simulator library at ${tdsim} (run make first)"
command -v curl >/dev/null || die "curl is needed (scripts/install-deps.sh installs it)"
command -v python3 >/dev/null || die "python3 is needed (scripts/install-deps.sh installs it)"

# --- every process started here is stopped on exit, Ctrl-C or SIGTERM --------------------------------
pids=()
names=()
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM
  if [ "${#pids[@]}" -gt 0 ]; then
    echo
    echo "demo: stopping ${names[*]}"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
      alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # start NAME LOGFILE COMMAND... : runs in the background, remembers the pid
  local name="$1" log="$2"
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=("$!")
  names+=("$name")
}

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}
pick_port() {  # pick_port WANTED: WANTED if free, else any free port
  local wanted="$1"
  if [ "$wanted" != 0 ] && port_free "$wanted"; then echo "$wanted"; return; fi
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_url() {  # wait_url URL SECONDS NAME PID
  local url="$1" seconds="$2" name="$3" pid="$4"
  for _ in $(seq 1 $((seconds * 5))); do
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "demo: ${name} exited; its log:" >&2; tail -n 30 "${run_dir}/${name}.log" >&2; exit 1; }
    sleep 0.2
  done
  die "${name} did not answer ${url} within ${seconds}s (log: ${run_dir}/${name}.log)"
}

mkdir -p "${demo_dir}/data" "$run_dir"
chmod 700 "$demo_dir"

if [ -z "${TGPULSE_ADMIN_TOKEN:-}" ]; then
  if [ ! -s "${demo_dir}/admin-token" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"${demo_dir}/admin-token")
  fi
  TGPULSE_ADMIN_TOKEN="$(cat "${demo_dir}/admin-token")"
fi
export TGPULSE_ADMIN_TOKEN

# The master key that seals the sessions' database keys at rest (docs/security-keys.md): generated
# once, kept beside the admin token, unless the caller brings one.
if [ -z "${TGPULSE_MASTER_KEY:-}" ] && [ -z "${TGPULSE_MASTER_KEY_FILE:-}" ]; then
  [ -s "${demo_dir}/master-key" ] || "$tgpulse" keys generate --out "${demo_dir}/master-key" >/dev/null
  export TGPULSE_MASTER_KEY_FILE="${demo_dir}/master-key"
fi

port="$(pick_port "${TGPULSE_DEMO_PORT:-8080}")"
admin_port="$(pick_port "${TGPULSE_DEMO_ADMIN_PORT:-9464}")"
control_port="$(pick_port 0)"
base="http://${host}:${port}"
admin="http://${host}:${admin_port}"  # /healthz, /readyz, /metrics on their own thread (server.admin_listen)

# --- tgpulse on tdsim and SQLite --------------------------------------------------------------------
# The simulator's demo profile: the phone scans most codes by itself (some accounts ask for 2FA, some users
# decline, unscanned ones expire), and sendMessage / searchPublicChat have tight flood limits.
tdsim_profile="${TDSIM_PROFILE:-${here}/src/tdsim/profiles/demo.yaml}"
start tgpulse "${run_dir}/tgpulse.log" env TDSIM_CONTROL_ADDR="${host}:${control_port}" TDSIM_PROFILE="$tdsim_profile" \
  "$tgpulse" serve --listen "${host}:${port}" --admin-listen "${host}:${admin_port}" \
  --data-dir "${demo_dir}/data" --td-library "$tdsim"
wait_url "${admin}/healthz" 60 tgpulse "${pids[0]}"

# A tenant and one QR login whose page can be opened in a browser (the simulator offers scan buttons).
api() {  # api METHOD PATH TOKEN JSON: prints the body; fails on an HTTP error
  curl -fsS --max-time 10 -X "$1" "${base}$2" -H "Authorization: Bearer $3" \
    -H 'Content-Type: application/json' --data "$4"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
qr_page=""
tenant="demo-$(date +%s)"
if tenant_json="$(api POST /v1/tenants "$TGPULSE_ADMIN_TOKEN" "{\"tenant_id\":\"${tenant}\"}" 2>/dev/null)"; then
  tenant_token="$(json_field token <<<"$tenant_json")"
  if login_json="$(api POST /v1/qr-logins "$tenant_token" '{}' 2>/dev/null)"; then
    qr_page="$(json_field page_url <<<"$login_json")"
    case "$qr_page" in http*) ;; *) qr_page="${base}${qr_page}" ;; esac
  fi
fi

# Every 20 s a QR login that the simulated phone scans, then, once authorized, logged out and deleted: each
# deletion is a session cleanup, so the cleanup panel and the cleanup SLO have data (the load's sessions
# stay logged in). Logins the phone does not accept are left to end by themselves, as a user's would.
churn() {
  local nap="" id status
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM  # a pause in progress ends with the loop
  pause() { sleep "$1" & nap=$!; wait "$nap"; }
  while :; do
    if created="$(api POST /v1/qr-logins "$tenant_token" '{}' 2>/dev/null)" &&
      id="$(json_field session_id <<<"$created" 2>/dev/null)"; then
      for _ in 1 2 3 4 5 6; do
        pause 2
        status="$(curl -fsS --max-time 10 "${base}/v1/sessions/${id}" -H "Authorization: Bearer ${tenant_token}" \
          2>/dev/null | json_field status 2>/dev/null)" || status=""
        [ "$status" = authorized ] && break
      done
      if [ "$status" = authorized ]; then
        curl -fsS -o /dev/null --max-time 30 -X DELETE "${base}/v1/sessions/${id}" \
          -H "Authorization: Bearer ${tenant_token}" || true
      fi
    fi
    pause 8
  done
}
if [ -n "${tenant_token:-}" ]; then
  start churn "${run_dir}/churn.log" churn
fi

# --- background load (when this build has the load generator) ----------------------------------------
load_note="not started: this build of tgpulse has no 'load' subcommand"
if "$tgpulse" load --help >/dev/null 2>&1; then
  start load "${run_dir}/load.log" "$tgpulse" load --url "$base" --control "${host}:${control_port}" \
    --tenants 3 --sessions 4 --rate "${TGPULSE_DEMO_LOAD_RATE:-15}" --duration 86400 --quiet \
    --mix getMe=3,getChats=3,getChatHistory=2,sendMessage=2,searchPublicChat=1
  load_note="${TGPULSE_DEMO_LOAD_RATE:-15} requests/s over 3 tenants x 4 sessions (log: ${run_dir}/load.log)"
fi

# --- Alertmanager and Prometheus with the shipped rules ------------------------------------------------
am_url=""
alertmanager_bin="$(command -v prometheus-alertmanager || command -v alertmanager || true)"
if [ -n "$alertmanager_bin" ]; then
  am_port="$(pick_port "${TGPULSE_DEMO_ALERTMANAGER_PORT:-9093}")"
  mkdir -p "${run_dir}/alertmanager"
  start alertmanager "${run_dir}/alertmanager.log" "$alertmanager_bin" \
    --config.file="${here}/deploy/alertmanager/alertmanager.yml" --storage.path="${run_dir}/alertmanager" \
    --web.listen-address="${host}:${am_port}" --cluster.listen-address=
  am_url="http://${host}:${am_port}"
  wait_url "${am_url}/-/ready" 60 alertmanager "${pids[-1]}"
fi

prom_url=""
prom_alerts=""
consoles=""
slo_console=""
if command -v prometheus >/dev/null; then
  prom_port="$(pick_port "${TGPULSE_DEMO_PROMETHEUS_PORT:-9090}")"
  # The shipped rules as they are; scrape and evaluate every 5 s so the demo moves quickly.
  {
    echo "global: {scrape_interval: 5s, evaluation_interval: 5s}"
    echo "rule_files:"
    for f in "${here}"/deploy/prometheus/rules/*.yml; do echo "  - \"${f}\""; done
    if [ -n "$am_url" ]; then
      echo "alerting: {alertmanagers: [{static_configs: [{targets: [\"${host}:${am_port}\"]}]}]}"
    fi
    echo "scrape_configs:"
    echo "  - {job_name: tgpulse, static_configs: [{targets: [\"${host}:${admin_port}\"]}]}"
  } >"${run_dir}/prometheus.yml"
  # The seed's four panels and the SLO row as Prometheus consoles (deploy/prometheus/consoles): they need
  # Prometheus' own prom.lib beside tgpulse.lib. Debian ships prom.lib among the package's examples.
  console_args=()
  prom_lib=""
  for candidate in /etc/prometheus/console_libraries/prom.lib /usr/share/prometheus/console_libraries/prom.lib \
    /usr/share/doc/prometheus/examples/console_libraries/prom.lib; do
    if [ -f "$candidate" ] || [ -f "${candidate}.gz" ]; then prom_lib="$candidate"; break; fi
  done
  if [ -n "$prom_lib" ]; then
    rm -rf "${run_dir}/console_libraries"
    mkdir -p "${run_dir}/console_libraries"
    if [ -f "$prom_lib" ]; then cp "$prom_lib" "${run_dir}/console_libraries/prom.lib"
    else gzip -dc "${prom_lib}.gz" >"${run_dir}/console_libraries/prom.lib"; fi
    cp "${here}/deploy/prometheus/console_libraries/tgpulse.lib" "${run_dir}/console_libraries/"
    console_args=(--web.console.templates="${here}/deploy/prometheus/consoles"
                  --web.console.libraries="${run_dir}/console_libraries")
  fi
  start prometheus "${run_dir}/prometheus.log" prometheus --config.file="${run_dir}/prometheus.yml" \
    --storage.tsdb.path="${run_dir}/prometheus" --web.listen-address="${host}:${prom_port}" \
    --enable-feature=exemplar-storage "${console_args[@]}"
  prom_url="http://${host}:${prom_port}"
  wait_url "${prom_url}/-/ready" 60 prometheus "${pids[-1]}"
  if [ -n "$prom_lib" ]; then
    consoles="${prom_url}/consoles/tgpulse.html"
    slo_console="${prom_url}/consoles/tgpulse-slo.html"
  fi
  # Debian's Prometheus ships only the classic web UI.
  prom_alerts="${prom_url}/alerts"
  curl -fsS -o /dev/null --max-time 5 "$prom_alerts" 2>/dev/null || prom_alerts="${prom_url}/classic/alerts"
fi

cat <<EOF

tgpulse demo is running (Ctrl-C stops everything):
  tgpulse          ${base}
  admin listener   ${admin}/metrics   (also /healthz, /readyz; what Prometheus scrapes)
  QR login page    ${qr_page:-(could not create one; see ${run_dir}/tgpulse.log)}
  Prometheus       ${prom_alerts:-(not installed: run scripts/install-deps.sh)}
  panels           ${consoles:-(not served: no prom.lib, the console library of Prometheus, was found)}
  SLO panels       ${slo_console:-(not served: no prom.lib, the console library of Prometheus, was found)}
  Alertmanager     ${am_url:-(not installed: run scripts/install-deps.sh)}
  tdsim control    http://${host}:${control_port}
  load             ${load_note}
  admin token      TGPULSE_ADMIN_TOKEN or ${demo_dir}/admin-token
  master key       ${TGPULSE_MASTER_KEY_FILE:-TGPULSE_MASTER_KEY} (seals the session keys at rest)
  logs             ${run_dir}/*.log
The simulated phone may scan the QR page's code by itself (demo profile); the page expires after the
login deadline (120 s by default). Create another with
  curl -X POST ${base}/v1/qr-logins -H "Authorization: Bearer <tenant token>"
EOF

# Run until Ctrl-C; if the service itself dies, say so and stop the rest.
while kill -0 "${pids[0]}" 2>/dev/null; do
  sleep 1 &
  wait $! || true
done
echo "demo: tgpulse exited; last lines of its log:" >&2
tail -n 20 "${run_dir}/tgpulse.log" >&2
exit 1
