#!/usr/bin/env bash
# Checks the include graph against the dependency direction (ARCHITECTURE.md, server/README.md),
# since a stray include compiles anyway with Debian's headers all under /usr/include:
#   base/    only Abseil, the C++ standard library and the C library / POSIX
#   engine/  no gRPC, protobuf, generated *.pb.h, proto/, server/ or client/ headers
#   client/  nothing from server/ or engine/
#   server/  each wing includes only the wings it may use (WING_MAY_USE below, apart from the
#            KNOWN_EXCEPTIONS) and none of the top-level files that assemble descentd
#            (main.cc, server.*, the flags and options), which may include anything
# tests/ and bench/ may include anything. Prints one line per offending include, naming the
# file, the line and the rule, and exits 1; exits 0 when every include is allowed.
# Usage: scripts/check-dependencies.sh [repository root, default: this script's repository]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# The server's wings and the wings each may include (besides itself).
declare -A WING_MAY_USE=(
  [rpc]="jobs datasets conversion security observability sweeps"
  [jobs]="store conversion"
  [conversion]="datasets"
  [observability]="jobs sweeps"
  [store]=""
  # Uploads are kept through the store's DatasetBackend (files on one box, the database
  # replicas share), which datasets/ parses and describes for.
  [datasets]="store"
  [security]=""
  # Sweeps run their trials as ordinary jobs (jobs/) and keep their own state in the store.
  [sweeps]="jobs store conversion"
)
# Of jobs/ and sweeps/, observability/ may include only the event interfaces.
OBSERVABILITY_MAY_USE_OF_JOBS="server/jobs/job_events.h"
OBSERVABILITY_MAY_USE_OF_SWEEPS="server/sweeps/sweep_events.h"
# Known exceptions, each "wing -> wing": arrows still being removed. Keep this list short.
KNOWN_EXCEPTIONS=()

# Third-party headers base/ must not include (it sits below everything else).
BASE_FORBIDDEN='^(grpc|grpcpp|google/|prometheus/|cblas|openblas|sqlite3|microhttpd|zlib|libpq|gtest/|gmock/|benchmark/)'
ENGINE_FORBIDDEN='^(grpc/|grpcpp/|grpc\+\+/|google/protobuf/|proto/|descent/v1/|server/|client/)|\.pb\.h$'
CLIENT_FORBIDDEN='^(server/|engine/)'

failures=0
fail() {  # file:line, include, why
  echo "check-dependencies: $1 includes \"$2\": $3" >&2
  failures=$((failures + 1))
}

is_known_exception() {  # wing, wing
  local entry
  for entry in "${KNOWN_EXCEPTIONS[@]}"; do
    [ "$entry" = "$1 -> $2" ] && return 0
  done
  return 1
}

is_top_level_server_file() {
  [[ "$1" =~ ^server/[^/]+\.(h|cc)$ ]]
}

# Every include of every source file under the checked folders, as "file:line:path".
includes() {
  local dirs=()
  for dir in base engine client server; do [ -d "$dir" ] && dirs+=("$dir"); done
  [ "${#dirs[@]}" -gt 0 ] || return 0
  find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.cc' \) -print0 |
    xargs -0 grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' |
    sed -E 's/^([^:]+):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1:\2:\3/' |
    sort
}

check_server() {  # file, where, include
  local file=$1 where=$2 include=$3
  local wing=${file#server/}
  wing=${wing%%/*}
  is_top_level_server_file "$file" && return 0  # main, server, flags, options: anything
  [[ "$include" == server/* ]] || return 0
  if is_top_level_server_file "$include"; then
    fail "$where" "$include" "a wing never includes the top-level files that assemble descentd"
    return
  fi
  local target=${include#server/}
  target=${target%%/*}
  [ "$target" = "$wing" ] && return 0
  if [ -z "${WING_MAY_USE[$wing]+set}" ]; then
    fail "$where" "$include" "server/$wing/ is not a known wing: add it to WING_MAY_USE in $0 and server/README.md"
    return
  fi
  is_known_exception "$wing" "$target" && return 0
  if [[ " ${WING_MAY_USE[$wing]} " != *" $target "* ]]; then
    fail "$where" "$include" "server/$wing/ may include only: ${WING_MAY_USE[$wing]:-no other wing} (server/README.md)"
  elif [ "$wing" = observability ] && [ "$target" = jobs ] &&
       [ "$include" != "$OBSERVABILITY_MAY_USE_OF_JOBS" ]; then
    fail "$where" "$include" "server/observability/ may include only $OBSERVABILITY_MAY_USE_OF_JOBS of server/jobs/"
  elif [ "$wing" = observability ] && [ "$target" = sweeps ] &&
       [ "$include" != "$OBSERVABILITY_MAY_USE_OF_SWEEPS" ]; then
    fail "$where" "$include" "server/observability/ may include only $OBSERVABILITY_MAY_USE_OF_SWEEPS of server/sweeps/"
  fi
}

while IFS=: read -r file line include; do
  where="$file:$line"
  case "$file" in
    base/*)
      if [[ "$include" =~ $BASE_FORBIDDEN ]] ||
         { [[ "$include" == */* ]] && [[ ! "$include" =~ ^(absl|base|sys|netinet|arpa)/ ]]; }; then
        fail "$where" "$include" "base/ includes only Abseil, the standard library and POSIX"
      fi ;;
    engine/*)
      [[ "$include" =~ $ENGINE_FORBIDDEN ]] &&
        fail "$where" "$include" "engine/ knows nothing of gRPC, protobuf, the wire types, server/ or client/" ;;
    client/*)
      [[ "$include" =~ $CLIENT_FORBIDDEN ]] &&
        fail "$where" "$include" "client/ uses only the generated stubs and base/, never server/ or engine/" ;;
    server/*)
      check_server "$file" "$where" "$include" ;;
  esac
done < <(includes)

if [ "$failures" -gt 0 ]; then
  echo "check-dependencies: $failures include(s) against the dependency direction" >&2
  exit 1
fi
echo "check-dependencies: every include follows the dependency direction"
