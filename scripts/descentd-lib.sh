# Sourced by scripts that need a throwaway descentd on loopback (scripts/demo.sh,
# bench/load.sh).
#
#   start_descentd DESCENTD LOG [FLAGS...]
#     Starts DESCENTD --listen 127.0.0.1:0 FLAGS... in the background, its output in LOG, and
#     waits (up to 10 s) for the start-up line that names the port the kernel picked. Sets
#     DESCENTD_PID and DESCENTD_PORT; on failure prints LOG and returns 1.
#   stop_descentd
#     SIGTERM and wait, if it still runs (descentd exits 0 after a clean stop).

start_descentd() {
  local binary=$1 log=$2
  shift 2
  "$binary" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  DESCENTD_PID=$!
  DESCENTD_PORT=
  local _
  for _ in $(seq 1 100); do
    DESCENTD_PORT=$(sed -n 's/.*serving gRPC on [^ ]* (port \([0-9][0-9]*\)).*/\1/p' "$log" |
      head -n 1)
    [ -n "$DESCENTD_PORT" ] && return 0
    kill -0 "$DESCENTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "descentd did not report its port within 10 s:" >&2
  cat "$log" >&2
  return 1
}

stop_descentd() {
  if [ -n "${DESCENTD_PID:-}" ] && kill -0 "$DESCENTD_PID" 2>/dev/null; then
    kill -TERM "$DESCENTD_PID" 2>/dev/null || true
    wait "$DESCENTD_PID" 2>/dev/null || true
  fi
}
