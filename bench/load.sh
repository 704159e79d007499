#!/usr/bin/env bash
# Load benchmark: starts descentd on 127.0.0.1 (an ephemeral port, a scratch data dir, no
# metrics endpoint), runs bench/load_bench.cc against it (50 clients submitting tiny jobs and
# watching each to its end, for LOAD_SECONDS), prints its JSON line, stops the server.
# Exit code: load_bench's (1 when a step was lost or duplicated or anything failed).
#
# Usage: bench/load.sh [build-dir]    (default: build)
# Environment: LOAD_CLIENTS (50), LOAD_SECONDS (30), LOAD_EPOCHS (4: 32 steps a job).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
descentd="$build_dir/server/descentd"
load="$build_dir/bench/load_bench"
for binary in "$descentd" "$load"; do
  if [ ! -x "$binary" ]; then
    echo "bench/load.sh: $binary not found; build first (make bench)" >&2
    exit 1
  fi
done

scratch=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

"$descentd" --listen=127.0.0.1:0 --metrics_listen= --data_dir="$scratch/data" \
  2>"$scratch/descentd.log" &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*serving gRPC on [^ ]* (port \([0-9]*\)).*/\1/p' "$scratch/descentd.log")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "bench/load.sh: descentd did not report its port:" >&2
  cat "$scratch/descentd.log" >&2
  exit 1
fi
echo "# descentd pid $server_pid on 127.0.0.1:$port; ${LOAD_CLIENTS:-50} clients for" \
  "${LOAD_SECONDS:-30}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --target="127.0.0.1:$port" --server_pid="$server_pid" \
  --clients="${LOAD_CLIENTS:-50}" --duration="${LOAD_SECONDS:-30}s" --epochs="${LOAD_EPOCHS:-4}"
