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
. scripts/descentd-lib.sh
require_binaries bench/load.sh "make bench" 1 "$descentd" "$load"
make_scratch
start_descentd "$descentd" "$SCRATCH/descentd.log" --metrics-listen= --data-dir "$SCRATCH/data"
echo "# descentd pid $DESCENTD_PID on 127.0.0.1:$DESCENTD_PORT; ${LOAD_CLIENTS:-50} clients for" \
  "${LOAD_SECONDS:-30}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --target="127.0.0.1:$DESCENTD_PORT" --server_pid="$DESCENTD_PID" \
  --clients="${LOAD_CLIENTS:-50}" --duration="${LOAD_SECONDS:-30}s" --epochs="${LOAD_EPOCHS:-4}"
