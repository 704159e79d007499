#!/usr/bin/env bash
# make demo: starts descentd on a free loopback port with ./demo-data as its data dir, waits
# until it reports SERVING, trains examples/house-prices.json with `descent submit --watch`
# (live progress, then the loss chart and the diagnosis on a terminal), and stops the server
# whatever happens. Exits with the watch's exit code (0 when the job succeeded).
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
descentd="$build_dir/server/descentd"
descent="$build_dir/client/descent"
for binary in "$descentd" "$descent"; do
  if [ ! -x "$binary" ]; then
    echo "demo: $binary is missing; build first (make build BUILD_DIR=$build_dir)" >&2
    exit 2
  fi
done

mkdir -p demo-data
log=$(mktemp -t descentd-demo.XXXXXX)
# Port 0: the kernel picks a free port and descentd names it in its start-up line.
"$descentd" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir demo-data \
  >"$log" 2>&1 &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*serving gRPC on [^ ]* (port \([0-9][0-9]*\)).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "demo: descentd exited during start-up:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "demo: descentd did not report its port within 10s:" >&2
  cat "$log" >&2
  exit 1
fi
export DESCENT_SERVER="127.0.0.1:$port"

for _ in $(seq 1 50); do
  "$descent" health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "descentd is serving on $DESCENT_SERVER (data dir ./demo-data)"
echo "\$ descent submit examples/house-prices.json --watch"
status=0
"$descent" submit examples/house-prices.json --watch || status=$?
exit "$status"
