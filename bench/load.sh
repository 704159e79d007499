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

. scripts/descentd-lib.sh
scratch=$(mktemp -d)
cleanup() {
  stop_descentd
  rm -rf "$scratch"
}
trap cleanup EXIT
start_descentd "$descentd" "$scratch/descentd.log" --metrics-listen= --data-dir "$scratch/data"
echo "# descentd pid $DESCENTD_PID on 127.0.0.1:$DESCENTD_PORT; ${LOAD_CLIENTS:-50} clients for" \
  "${LOAD_SECONDS:-30}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --target="127.0.0.1:$DESCENTD_PORT" --server_pid="$DESCENTD_PID" \
  --clients="${LOAD_CLIENTS:-50}" --duration="${LOAD_SECONDS:-30}s" --epochs="${LOAD_EPOCHS:-4}"
