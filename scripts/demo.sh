#!/usr/bin/env bash
# make demo: runs tgpulse in the foreground on 127.0.0.1 with its embedded defaults.
set -euo pipefail
build="${1:-build}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${here}/.demo"
mkdir -p "$data"
exec "${here}/${build}/tgpulse" serve --listen 127.0.0.1:8080 --data-dir "$data"
