#!/usr/bin/env bash
# scripts/check-dependencies.sh on small made-up trees: a tree that follows the dependency
# direction passes, and each kind of wrong include fails naming the file and the include.
# Usage: check_dependencies_test.sh path/to/check-dependencies.sh
set -euo pipefail
check=$1
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

failures=0
write() {  # path, include...
  local path=$tree/$1
  shift
  mkdir -p "$(dirname "$path")"
  : >"$path"
  for include in "$@"; do echo "#include $include" >>"$path"; done
}

expect_pass() {  # what
  local out
  if ! out=$("$check" "$tree" 2>&1); then
    echo "FAIL: $1: expected to pass, got:"; echo "$out"; failures=$((failures + 1))
  fi
}

expect_fail() {  # what, file, include
  local out rc=0
  out=$("$check" "$tree" 2>&1) || rc=$?
  if [ "$rc" -ne 1 ] || [[ "$out" != *"$2:"*"includes \"$3\""* ]]; then
    echo "FAIL: $1: expected exit 1 naming $2 and $3, got exit $rc:"; echo "$out"
    failures=$((failures + 1))
  fi
}

# A tree with every allowed kind of arrow.
write base/files.cc '"base/files.h"' '"absl/status/status.h"' '<sys/stat.h>' '<string>'
write engine/network.cc '"engine/network.h"' '"base/files.h"' '<cblas.h>'
write client/main.cc '"descent/v1/training.grpc.pb.h"' '<grpcpp/grpcpp.h>' '"base/csv.h"'
write server/rpc/service.cc '"server/jobs/job_manager.h"' '"server/conversion/spec_conversion.h"' \
  '"server/security/bearer_tokens.h"' '"server/observability/log.h"' '"server/datasets/dataset_store.h"'
write server/jobs/job_manager.cc '"server/store/job_store.h"' '"server/conversion/prepared_job.h"'
write server/conversion/spec_conversion.cc '"server/datasets/table_dataset.h"' '"engine/network.h"'
write server/observability/job_event_log.h '"server/jobs/job_events.h"'
write server/server.cc '"server/command_line.h"' '"server/rpc/service.h"'
write server/command_line.cc '"server/command_line.h"'
write server/server_flags.cc '"server/command_line.h"' '"server/server_options.h"'
expect_pass "allowed arrows"

for rule in \
  "engine/loss.cc|<grpcpp/grpcpp.h>" \
  "engine/loss.cc|\"google/protobuf/message.h\"" \
  "engine/loss.cc|\"descent/v1/training.pb.h\"" \
  "engine/loss.cc|\"server/jobs/job_manager.h\"" \
  "client/predict.cc|\"server/conversion/spec_conversion.h\"" \
  "client/predict.cc|\"engine/network.h\"" \
  "base/csv.cc|\"engine/matrix.h\"" \
  "base/csv.cc|<grpcpp/grpcpp.h>" \
  "server/conversion/spec_conversion.h|\"server/jobs/job_manager.h\"" \
  "server/jobs/job_record.cc|\"server/observability/log.h\"" \
  "server/datasets/csv_parser.cc|\"server/conversion/engine_to_proto.h\"" \
  "server/observability/metrics.cc|\"server/jobs/job_manager.h\"" \
  "server/observability/metrics_http_server.cc|\"server/listen_socket.h\"" \
  "server/rpc/service.cc|\"server/server.h\""; do
  file=${rule%%|*}
  include=${rule#*|}
  saved=$(mktemp)
  [ -f "$tree/$file" ] && cp "$tree/$file" "$saved" || : >"$saved"
  mkdir -p "$(dirname "$tree/$file")"
  echo "#include $include" >>"$tree/$file"
  expect_fail "$file -> $include" "$file" "${include:1:${#include}-2}"
  cp "$saved" "$tree/$file"
  rm -f "$saved"
done

if [ "$failures" -gt 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "all cases passed"
