#!/usr/bin/env bash
# Replicas on PostgreSQL: runs bench/replicas_bench.cc (in-process descentd replicas, one
# worker each, on a PostgreSQL 15 the test harness starts in a temp dir) and prints its JSON
# lines: the store overhead of PostgreSQL against SQLite (tiny and small, watched steps/s,
# goal >= 0.9x), the claim latency (SubmitJob to RUNNING on an idle replica, median and p95,
# local and remote), and two replicas with one worker each against one (goal >= 1.8x on two
# cores), with the load average next to each figure. descentd's log goes to a scratch file
# (its path is printed). A benchmark, not a test: never run by ctest or CI.
#
# Usage: bench/replicas.sh [build-dir]    (default: build)
# Needs PostgreSQL 15 (deploy/install-deps.sh test). Environment: REPLICAS_REPEATS (5),
# REPLICAS_SECONDS (1: engine seconds per store job and per scale job), REPLICAS_CLAIMS (20),
# REPLICAS_JOBS (8), REPLICAS_PARTS (store,claim,scale: which figures). OpenBLAS runs on its
# own kernels (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE, as bench/run.sh) on one thread per
# job; processes are not pinned: the scale figure needs both cores, and says how many cores
# other processes kept busy meanwhile (other_processes_cores: near 0 for a figure that means
# something).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
bench="$build_dir/bench/replicas_bench"
if [ ! -x "$bench" ]; then
  echo "bench/replicas.sh: $bench not found; build first (ninja -C $build_dir replicas_bench)" >&2
  exit 1
fi
log=$(mktemp /tmp/replicas_bench.XXXXXX.log)
echo "# $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); descentd log in $log"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
  "$bench" --repeats="${REPLICAS_REPEATS:-5}" --seconds="${REPLICAS_SECONDS:-1}" \
  --claims="${REPLICAS_CLAIMS:-20}" --jobs="${REPLICAS_JOBS:-8}" \
  --parts="${REPLICAS_PARTS:-store,claim,scale}" 2>"$log"
