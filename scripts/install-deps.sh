#!/usr/bin/env bash
# Installs everything tgpulse needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are skipped, the TDLib binary is fetched once.
# Works as root, or as a user with sudo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TDLIB_NPM_PACKAGE="@prebuilt-tdlib/linux-x64-glibc@0.1008067.0"
TDLIB_DIR="${here}/third_party/tdlib"

# Debian packages: build toolchain, libraries, and the real servers the tests start.
PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl
  libboost-dev libboost-system-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libsqlite3-dev sqlite3 libqrencode-dev
  libcli11-dev libyaml-cpp-dev libcurl4-openssl-dev libssl-dev openssl libpqxx-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev
  python3 python3-jsonschema
  zbar-tools chromium
  docker-compose
  ccache clang-15 libfuzzer-15-dev
  # systemd-analyze checks the systemd unit (verify, security, the system-call groups); nothing is started
  systemd
)
# Installed without recommends (Debian's prometheus recommends a node exporter and more) and without
# starting their services (below). postgresql-15 gives the PostgreSQL store's tests initdb, pg_ctl and
# postgres (/usr/lib/postgresql/15/bin); the tests start their own server in a temporary directory.
# redis-server: the shared request quota's tests start their own on 127.0.0.1 and a free port.
NO_RECOMMENDS=(prometheus prometheus-alertmanager postgresql-15 redis-server)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and sudo is missing; install these by hand: ${PACKAGES[*]} ${NO_RECOMMENDS[*]}" >&2
    exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}" "${NO_RECOMMENDS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js: this machine image may carry its own build (with npm inside); Debian's only when none is there.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
# kubectl renders the Kubernetes manifests (kubectl kustomize). Debian's kubernetes-client ships
# /usr/bin/kubectl, as other kubectl packages do, so it is installed only when no kubectl is there.
if ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  rec=(); norec=()
  for p in "${missing[@]}"; do
    case " ${NO_RECOMMENDS[*]} " in *" $p "*) norec+=("$p");; *) rec+=("$p");; esac
  done
  if [ "${#rec[@]}" -gt 0 ]; then $SUDO apt-get install -y -qq "${rec[@]}" >/dev/null; fi
  if [ "${#norec[@]}" -gt 0 ]; then
    # Debian starts these as system services on install, bound to 0.0.0.0; tgpulse's tests start their
    # own on 127.0.0.1 and free ports. Keep the packages we install now from starting at all (Debian's
    # policy-rc.d mechanism, honoured by invoke-rc.d and deb-systemd-invoke) rather than stopping
    # anything afterwards: a Prometheus the machine already ran is never touched.
    # The policy file is removed however the script ends (failure, Ctrl-C, kill): left behind, it would
    # keep every service on the machine from starting at its next install or upgrade.
    policy="${POLICY_RC_D:-/usr/sbin/policy-rc.d}"
    own_policy=0
    remove_own_policy() { if [ "$own_policy" -eq 1 ]; then $SUDO rm -f "$policy"; own_policy=0; fi; }
    trap remove_own_policy EXIT
    trap 'remove_own_policy; exit 130' INT
    trap 'remove_own_policy; exit 143' TERM HUP
    # Debian's postgresql-common also creates a cluster "main" (port 5432) when postgresql-15 is
    # installed; a drop-in of its createcluster.d says not to (nothing is changed for a machine that
    # already has postgresql-common: the drop-in only applies to clusters created from now on).
    case " ${norec[*]} " in *" postgresql-15 "*)
      if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q "install ok installed"; then
        createcluster_d="${PG_CREATECLUSTER_D:-/etc/postgresql-common/createcluster.d}"
        $SUDO mkdir -p "$createcluster_d"
        printf '# written by tgpulse install-deps: no cluster on install; tests start their own\ncreate_main_cluster = false\n' |
          $SUDO tee "$createcluster_d/tgpulse-no-main-cluster.conf" >/dev/null
      fi;;
    esac
    if [ ! -e "$policy" ]; then
      own_policy=1
      printf '#!/bin/sh\n# written by tgpulse install-deps for the duration of one apt-get install\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
      $SUDO chmod 755 "$policy"
    fi
    status=0
    $SUDO apt-get install -y -qq --no-install-recommends "${norec[@]}" >/dev/null || status=$?
    remove_own_policy
    trap - EXIT INT TERM HUP
    [ "$status" -eq 0 ] || exit "$status"
    # Not started at boot either; only the units of the packages installed just now.
    if command -v systemctl >/dev/null 2>&1; then
      for svc in "${norec[@]}"; do
        [ "$svc" = postgresql-15 ] && svc=postgresql  # the package's unit is postgresql(@15-main)
        $SUDO systemctl disable "$svc" >/dev/null 2>&1 || true
      done
    fi
  fi
fi

# The real TDLib (libtdjson.so 1.8.67) from the npm registry, never committed.
if [ ! -f "${TDLIB_DIR}/libtdjson.so" ]; then
  echo "install-deps: fetching ${TDLIB_NPM_PACKAGE}"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "${TDLIB_NPM_PACKAGE}" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  so="$(find "$tmp/package" -name 'libtdjson.so*' -type f | head -n1)"
  if [ -z "$so" ]; then echo "install-deps: no libtdjson.so in ${TDLIB_NPM_PACKAGE}" >&2; exit 1; fi
  mkdir -p "$TDLIB_DIR"
  cp "$so" "${TDLIB_DIR}/libtdjson.so.partial" && mv "${TDLIB_DIR}/libtdjson.so.partial" "${TDLIB_DIR}/libtdjson.so"
fi

# npm packages used by tests: the OpenTelemetry JS SDK (OTLP reference), playwright-core (browser tests),
# and the vendors' definitions the operations bundle is checked against: @grafana/schema with typescript
# (the dashboard), @elastic/ecs (the log fields). npm ci when any of them is missing, or when
# package-lock.json changed since the last install (a pinned version moved).
node_dir="${here}/tests/node"
npm_needed=0
for pkg in @opentelemetry/sdk-trace-base playwright-core @grafana/schema @elastic/ecs typescript; do
  [ -f "${node_dir}/node_modules/${pkg}/package.json" ] || npm_needed=1
done
if [ -f "${node_dir}/package-lock.json" ] && [ -f "${node_dir}/node_modules/.package-lock.json" ] &&
  [ "${node_dir}/package-lock.json" -nt "${node_dir}/node_modules/.package-lock.json" ]; then
  npm_needed=1
fi
if [ "$npm_needed" = 1 ]; then
  echo "install-deps: npm ci in tests/node"
  (cd "$node_dir" && { [ -f package-lock.json ] && npm ci --silent --no-audit --no-fund || npm install --silent --no-audit --no-fund; })
fi
echo "install-deps: ok"
