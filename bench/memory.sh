#!/usr/bin/env bash
# Memory benchmark: descentd's resident set and start-up time with an empty job store and
# with MEMORY_JOBS (100,000) finished jobs in it (bench/fill_store.cc writes them through
# the store API: every tenth with 1,000-10,000 steps, the rest 32), then again after a few
# calls that read finished jobs back (list, get, a whole replay of long jobs, predict).
# Prints one JSON line. Goal: RSS with the full store at most 100 MB above the empty server,
# start-up at most 2 s. A benchmark, not a test (run by hand; the RSS after the 50-client
# load run is bench/load.sh's rss_kib_after).
#
# Usage: bench/memory.sh [build-dir]    (default: build)
# Environment: MEMORY_JOBS (100000), MEMORY_LONG_EVERY (10).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
descentd="$build_dir/server/descentd"
cli="$build_dir/client/descent"
fill="$build_dir/bench/fill_store"
. scripts/descentd-lib.sh
require_binaries bench/memory.sh "ninja descentd descent fill_store" 1 "$descentd" "$cli" "$fill"
make_scratch
scratch=$SCRATCH

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

# Starts descentd on $1 and sets START_MS to the milliseconds until it reported its port.
timed_start() {
  local begin
  begin=$(now_ms)
  DESCENTD_START_SECONDS=30 start_descentd "$descentd" "$scratch/descentd.log" \
    --metrics-listen= --data-dir "$1"
  START_MS=$(($(now_ms) - begin))
}

timed_start "$scratch/empty"
empty_rss=$(rss_kib "$DESCENTD_PID")
empty_start=$START_MS
stop_descentd

jobs=${MEMORY_JOBS:-100000}
long_every=${MEMORY_LONG_EVERY:-10}
mkdir -p "$scratch/full"
# Filled where fsync is free when /dev/shm exists (each submitted job is synced), then moved.
fill_dir=$scratch/full
[ -d /dev/shm ] && fill_dir=$(mktemp -d /dev/shm/descent-memory.XXXXXX)
fill_begin=$(now_ms)
"$fill" --store="$fill_dir/descent.db" --jobs="$jobs" --long_every="$long_every" >/dev/null
if [ "$fill_dir" != "$scratch/full" ]; then
  mv "$fill_dir/descent.db" "$scratch/full/" && rm -rf "$fill_dir"
fi
fill_ms=$(($(now_ms) - fill_begin))
store_bytes=$(stat -c %s "$scratch/full/descent.db")

timed_start "$scratch/full"
full_rss=$(rss_kib "$DESCENTD_PID")
full_start=$START_MS
server=127.0.0.1:$DESCENTD_PORT
# Read finished jobs back: a page of the list, the oldest job, whole replays of the first
# ten long jobs, a prediction.
"$cli" --server "$server" list >/dev/null
"$cli" --server "$server" get job-000000000001 >/dev/null
replayed=0
for i in $(seq 0 "$long_every" $((long_every * 9))); do
  id=$(printf 'job-%012x' "$i")
  replayed=$((replayed + $("$cli" --server "$server" -o json watch "$id" | grep -c '"losses"' || true)))
done
printf 'x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,x11,x12\n1,2,3,4,5,6,7,8,9,10,11,12,13\n' >"$scratch/rows.csv"
"$cli" --server "$server" predict job-000000000002 --input "$scratch/rows.csv" >/dev/null
after_rss=$(rss_kib "$DESCENTD_PID")
stop_descentd

growth_mb=$(((full_rss - empty_rss) / 1024))
printf '{"jobs": %d, "store_bytes": %d, "fill_ms": %d, "empty_rss_kib": %d, "empty_start_ms": %d, ' \
  "$jobs" "$store_bytes" "$fill_ms" "$empty_rss" "$empty_start"
printf '"full_rss_kib": %d, "full_start_ms": %d, "rss_growth_mb": %d, "loss_messages_replayed": %d, ' \
  "$full_rss" "$full_start" "$growth_mb" "$replayed"
printf '"rss_after_reads_kib": %d, "goal_rss_growth_mb": 100, "goal_start_ms": 2000, "goals_met": %s}\n' \
  "$after_rss" "$([ "$growth_mb" -le 100 ] && [ "$full_start" -le 2000 ] && echo true || echo false)"
