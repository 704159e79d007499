#!/usr/bin/env bash
# make demo: starts descentd on a free loopback port with ./demo-data (or
# $DESCENT_DEMO_DATA_DIR: one descentd per data dir, so concurrent demos need their own) as its
# data dir, waits
# until it reports SERVING, trains examples/house-prices.json with `descent submit --watch`
# (live progress, then the loss chart and the diagnosis on a terminal), and stops the server
# whatever happens. Exits with the watch's exit code (0 when the job succeeded).
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
descentd="$build_dir/server/descentd"
descent="$build_dir/client/descent"
. scripts/descentd-lib.sh
require_binaries demo "make build BUILD_DIR=$build_dir" 2 "$descentd" "$descent"
data_dir=${DESCENT_DEMO_DATA_DIR:-demo-data}
mkdir -p "$data_dir"
make_scratch
trap 'exit 130' INT TERM
start_descentd "$descentd" "$SCRATCH/descentd.log" --metrics-listen 127.0.0.1:0 \
  --data-dir "$data_dir"
export DESCENT_SERVER="127.0.0.1:$DESCENTD_PORT"

for _ in $(seq 1 50); do
  "$descent" health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "descentd is serving on $DESCENT_SERVER (data dir $data_dir)"
echo "\$ descent submit examples/house-prices.json --watch"
status=0
"$descent" submit examples/house-prices.json --watch || status=$?
exit "$status"
