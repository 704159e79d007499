#!/usr/bin/env bash
# Load benchmark: starts descentd on 127.0.0.1 (an ephemeral port, a scratch data dir, no
# metrics endpoint), runs bench/load_bench.cc against it (50 clients submitting tiny jobs and
# watching each to its end, for LOAD_SECONDS), prints its JSON line, stops the server.
# With LOAD_REPLICAS=N (N > 1): a throwaway PostgreSQL (bench/scratch_postgres.cc) and N
# replicas on it, one worker each; each client submits to one replica and watches on the
# next, so most streams come from the database, not from the replica that trains the job.
# Exit code: load_bench's (1 when a step was lost or duplicated or anything failed).
#
# Usage: bench/load.sh [build-dir]    (default: build)
# Environment: LOAD_CLIENTS (50), LOAD_SECONDS (30), LOAD_EPOCHS (4: 32 steps a job),
# LOAD_REPLICAS (1).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
descentd="$build_dir/server/descentd"
load="$build_dir/bench/load_bench"
replicas=${LOAD_REPLICAS:-1}
. scripts/descentd-lib.sh
require_binaries bench/load.sh "make bench" 1 "$descentd" "$load"
make_scratch
if [ "$replicas" -le 1 ]; then
  start_descentd "$descentd" "$SCRATCH/descentd.log" --metrics-listen= --data-dir "$SCRATCH/data"
  targets="127.0.0.1:$DESCENTD_PORT"
else
  require_binaries bench/load.sh "make bench" 1 "$build_dir/bench/scratch_postgres"
  "$build_dir/bench/scratch_postgres" >"$SCRATCH/postgres.url" 2>"$SCRATCH/postgres.log" &
  postgres_pid=$!
  others=()
  trap 'stop_descentd; for pid in "${others[@]}"; do kill -TERM "$pid" 2>/dev/null || true; \
    wait "$pid" 2>/dev/null || true; done; kill -TERM "$postgres_pid" 2>/dev/null || true; \
    wait "$postgres_pid" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
  for _ in $(seq 1 600); do
    [ -s "$SCRATCH/postgres.url" ] && break
    kill -0 "$postgres_pid" 2>/dev/null || { cat "$SCRATCH/postgres.log" >&2; exit 1; }
    sleep 0.1
  done
  url=$(head -n 1 "$SCRATCH/postgres.url")
  [ -n "$url" ] || { echo "bench/load.sh: PostgreSQL did not start" >&2; exit 1; }
  targets=
  for i in $(seq 1 "$replicas"); do
    start_descentd "$descentd" "$SCRATCH/descentd-$i.log" --metrics-listen= --workers 1 \
      --data-dir "$SCRATCH/data-$i" --store "$url"
    targets="${targets:+$targets,}127.0.0.1:$DESCENTD_PORT"
    # The last one started stays DESCENTD_PID (stop_descentd's); the others are ours to stop.
    if [ "$i" -lt "$replicas" ]; then others+=("$DESCENTD_PID"); fi
  done
fi
echo "# descentd pid $DESCENTD_PID on $targets; ${LOAD_CLIENTS:-50} clients for" \
  "${LOAD_SECONDS:-30}s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --target="$targets" --server_pid="$DESCENTD_PID" \
  --clients="${LOAD_CLIENTS:-50}" --duration="${LOAD_SECONDS:-30}s" --epochs="${LOAD_EPOCHS:-4}"
