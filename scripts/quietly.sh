#!/usr/bin/env bash
# Runs a build command with its output held back: shown when the command fails (all of it), or when it
# rebuilt, installed or fetched something (without the "Built target" lines of targets that were already up
# to date); nothing when everything was up to date. `make demo` builds through it so that a newcomer sees
# the demo's URLs, not the build's progress.
#
#   scripts/quietly.sh COMMAND [ARG...]
set -uo pipefail

log="$(mktemp "${TMPDIR:-/tmp}/tgpulse-build.XXXXXX")"
trap 'rm -f "$log"' EXIT
"$@" >"$log" 2>&1
status=$?
if [ "$status" -ne 0 ]; then
  cat "$log" >&2
  echo "build failed (exit ${status}): $*" >&2
  exit "$status"
fi
if grep -qE 'Building|Linking|Generating|install-deps: (installing|fetching|npm)|warning:' "$log"; then
  grep -vE '^\[ *[0-9]+%\] Built target |^install-deps: ok$|^g?make\[[0-9]+\]: (Entering|Leaving) directory' "$log"
fi
exit 0
