#!/usr/bin/env bash
# Sanitizer and fuzzing stages of CI. Each stage prints its wall time; any sanitizer report,
# failing test or fuzzer finding fails the run.
#
#   asan  clang, -O1, AddressSanitizer + UndefinedBehaviorSanitizer: every test executable,
#         run by ctest (the whole suite, integration tests included). The same build holds
#         the libFuzzer targets, so the fuzz stage reuses it.
#   fuzz  each target in tests/fuzz for $FUZZ_SECONDS (default 45) on a scratch copy of its
#         committed seed corpus (tests/fuzz/corpus/<target>/); a crash, sanitizer report,
#         timeout, out-of-memory or broken error contract fails. The input that found it is
#         kept as <build>/fuzz-artifacts/<target>-*: replay it with `<fuzzer> <file>`.
#   tsan  clang, -O1, ThreadSanitizer: the server_tests suites of descent's own threads
#         (threaded_suites below): job manager workers, watch streams, loss history,
#         dataset store, job store and restarts, metrics, token reloads. Suites that host
#         a gRPC server are left out: Debian's gRPC is not instrumented, so the hand-offs
#         through its completion queues are invisible and every such test reports races in
#         gRPC's inline header code (hundreds, none in descent's code); suppressing them
#         would also hide real races in the service handlers. The integration tests are
#         left out too (same reason, and CI's time budget). Suppressions:
#         scripts/tsan-suppressions.txt (Abseil's own lock-order graph, which it guards with a
#         lock TSan cannot see).
#
# Usage: scripts/ci-sanitizers.sh [asan|fuzz|tsan ...]   (default: asan fuzz tsan)
# Environment: ASAN_BUILD_DIR (build-asan), TSAN_BUILD_DIR (build-tsan), FUZZ_SECONDS (30),
#   JOBS (2: compile jobs), TEST_JOBS (4: tests at once under ASan; most of the suite's time is
#   spent waiting on processes, sockets and PostgreSQL, and it passes oversubscribed).
set -euo pipefail
cd "$(dirname "$0")/.."

asan_dir=${ASAN_BUILD_DIR:-build-asan}
tsan_dir=${TSAN_BUILD_DIR:-build-tsan}
fuzz_seconds=${FUZZ_SECONDS:-30}
jobs=${JOBS:-2}
test_jobs=${TEST_JOBS:-4}
# One fuzzer per seed corpus directory.
fuzzers=()
for corpus in tests/fuzz/corpus/*/; do fuzzers+=("$(basename "$corpus")"); done

# -O1 and line tables only: sanitizer builds are for finding bugs, and full debug info would
# double their link time. Benchmarks are not built.
configure() {
  local dir=$1
  shift
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=None \
    "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only" -DDESCENT_BUILD_BENCH=OFF "$@" >/dev/null
}

timed() {
  local name=$1 start=$SECONDS
  shift
  echo "---- $name"
  "$@"
  echo "---- $name: $((SECONDS - start)) s wall"
}

# The sanitizers' reports name file:line through llvm-symbolizer, which Debian's llvm-14
# ships outside PATH (deploy/install-deps.sh test installs it). Appended: clang stays /usr/bin's.
[ ! -x /usr/lib/llvm-14/bin/llvm-symbolizer ] || export PATH=$PATH:/usr/lib/llvm-14/bin
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export CTEST_OUTPUT_ON_FAILURE=1

asan() {
  configure "$asan_dir" -DDESCENT_SANITIZE=address,undefined -DDESCENT_BUILD_FUZZ=ON
  ninja -C "$asan_dir" -j "$jobs"
  ctest --test-dir "$asan_dir" -j "$test_jobs" --timeout 600
}

fuzz() {
  local target corpus scratch status=0
  for target in "${fuzzers[@]}"; do
    [ -x "$asan_dir/tests/fuzz/$target" ] || ninja -C "$asan_dir" -j "$jobs" "$target"
  done
  mkdir -p "$asan_dir/fuzz-artifacts"
  for target in "${fuzzers[@]}"; do
    corpus=tests/fuzz/corpus/$target
    scratch=$(mktemp -d)
    # New inputs go to the scratch directory; the committed corpus is only read.
    "$asan_dir/tests/fuzz/$target" "$scratch" "$corpus" -max_total_time="$fuzz_seconds" \
      -timeout=20 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="$asan_dir/fuzz-artifacts/$target-" 2>"$asan_dir/fuzz-$target.log" ||
      status=$?
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' \
      "$asan_dir/fuzz-$target.log" | tr '\n' ' ' | sed "s/^/$target: /"
    echo
    rm -rf "$scratch"
    if [ "$status" -ne 0 ]; then
      tail -n 60 "$asan_dir/fuzz-$target.log"
      echo "FUZZ FINDING in $target: see $asan_dir/fuzz-artifacts/" >&2
      return "$status"
    fi
  done
}

# The server_tests suites run under TSan (see tsan above): a new suite that exercises
# descent's threads without a gRPC server belongs here. A parameterized suite's tests are
# named Prefix/Suite.Test/Param (the store suites run once per job store implementation).
threaded_suites='^([A-Za-z]+/)?(JobManagerTest|JobManagerWatchTest|LossHistoryTest|LossHistoryDeathTest|'
threaded_suites+='DatasetStoreTest|SharedDatasetsTest|ReceiveUploadTest|ServiceMetricsTest|ExposerTest|'
threaded_suites+='MetricsHttpServerTest|JobEventLogTest|LogTest|'
threaded_suites+='BearerTokensTest|JobStoreTest|PostgresJobStoreTest|JobManagerRestartTest|JobManagerStoreTest|'
threaded_suites+='ModelCacheTest)\.'

tsan() {
  configure "$tsan_dir" -DDESCENT_SANITIZE=thread
  ninja -C "$tsan_dir" -j "$jobs" server_tests
  # Debian's Abseil is not instrumented: without this preload TSan cannot see absl::Mutex
  # and reports every member it guards as racy (tests/tsan/absl_mutex_annotations.cc).
  clang++ -std=c++20 -O1 -shared -fPIC tests/tsan/absl_mutex_annotations.cc -ldl \
    -o "$tsan_dir/libabsl_mutex_annotations.so"
  local options="halt_on_error=1 second_deadlock_stack=1"
  [ ! -f scripts/tsan-suppressions.txt ] ||
    options+=" suppressions=$PWD/scripts/tsan-suppressions.txt"
  LD_PRELOAD=$PWD/$tsan_dir/libabsl_mutex_annotations.so TSAN_OPTIONS=$options \
    ctest --test-dir "$tsan_dir" -j "$jobs" --timeout 600 -L server -R "$threaded_suites"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asan fuzz tsan)
for stage in "${stages[@]}"; do
  case "$stage" in
    asan | fuzz | tsan) timed "$stage" "$stage" ;;
    *) echo "usage: $0 [asan|fuzz|tsan ...]" >&2; exit 2 ;;
  esac
done
