# shellcheck shell=bash
# Sourced by scripts that need a throwaway descentd on loopback (scripts/demo.sh,
# bench/load.sh, bench/memory.sh).
#
#   require_binaries SCRIPT HINT STATUS BINARY...
#     Exits with STATUS, naming SCRIPT and how to build (HINT), when a BINARY is missing.
#   make_scratch
#     Sets SCRATCH to a fresh temporary directory and traps EXIT to stop descentd and remove
#     it, whatever happens.
#   start_descentd DESCENTD LOG [FLAGS...]
#     Starts DESCENTD --listen 127.0.0.1:0 FLAGS... in the background, its output in LOG, and
#     waits (up to DESCENTD_START_SECONDS, default 10) for the start-up line that names the
#     port the kernel picked. Sets DESCENTD_PID and DESCENTD_PORT; on failure prints LOG and
#     returns 1.
#   stop_descentd
#     SIGTERM and wait, if it still runs (descentd exits 0 after a clean stop).

require_binaries() {
  local script=$1 hint=$2 status=$3 binary
  shift 3
  for binary in "$@"; do
    if [ ! -x "$binary" ]; then
      echo "$script: $binary is missing; build first ($hint)" >&2
      exit "$status"
    fi
  done
}

make_scratch() {
  SCRATCH=$(mktemp -d)
  trap 'stop_descentd; rm -rf "$SCRATCH"' EXIT
}

start_descentd() {
  local binary=$1 log=$2 _
  shift 2
  "$binary" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  DESCENTD_PID=$!
  DESCENTD_PORT=
  # Polled every 10 ms, so bench/memory.sh's start-up times are not rounded up to the poll.
  for _ in $(seq 1 $((${DESCENTD_START_SECONDS:-10} * 100))); do
    DESCENTD_PORT=$(sed -n 's/.*serving gRPC on [^ ]* (port \([0-9][0-9]*\)).*/\1/p' "$log" |
      head -n 1)
    [ -n "$DESCENTD_PORT" ] && return 0
    kill -0 "$DESCENTD_PID" 2>/dev/null || break
    sleep 0.01
  done
  echo "descentd did not report its port within ${DESCENTD_START_SECONDS:-10} s:" >&2
  cat "$log" >&2
  return 1
}

stop_descentd() {
  if [ -n "${DESCENTD_PID:-}" ] && kill -0 "$DESCENTD_PID" 2>/dev/null; then
    kill -TERM "$DESCENTD_PID" 2>/dev/null || true
    wait "$DESCENTD_PID" 2>/dev/null || true
  fi
}
