#!/usr/bin/env bash
# The one list of system packages descent needs, all from Debian 12's archive.
# Idempotent: installs only what is missing and prints nothing when everything is present.
# Usage: deploy/install-deps.sh [build|runtime|test|bench]   (default: test = build + test tools)
#   build    compilers, CMake, the -dev packages the code links against, python3-onnx (for
#            onnx/onnx.proto, the schema of ONNX exports) and openssl (the unit tests, which the
#            Docker build stage runs too, make TLS certificates with it)
#            and libxsmm-dev (the engine's small matrix products: static libraries only, so
#            nothing of it is needed at run time)
#   runtime  only the shared libraries descentd and descent need to run (the Docker runtime stage)
#   test     build + what the tests and benchmarks drive: prometheus/promtool, python3 gRPC,
#            OpenCV's Python dnn module (runs exported ONNX models; onnx.checker is python3-onnx), and
#            scripts/ci-sanitizers.sh's clang with its sanitizer and libFuzzer runtimes
#            (libclang-rt-14-dev) and llvm-symbolizer for readable reports (llvm-14), and the
#            PostgreSQL 15 server the PostgreSQL job store's tests start in a temp dir
#            (tests/testing/postgres_server.h; its package creates the unprivileged `postgres`
#            user the tests run it as when they run as root)
#   bench    test + python3-torch, the PyTorch peer bench/run.sh times the engine against
#            (bench/pytorch_peer.py). Benchmarks only: never in the test profile, CI or images,
#            so no test depends on torch at run time (bench/run.sh runs without it, engine only)
set -euo pipefail
profile=${1:-test}

# libpq (libpq-dev, libpq5): descentd's client for a PostgreSQL job store (--store=postgresql://...).
# /metrics is served by libmicrohttpd from prometheus-cpp's core (server/observability/metrics_http_server.h);
# prometheus-cpp's pull library and its civetweb are not needed at run time. prometheus-cpp-dev
# still brings them into the build profile: Debian's package depends on them.
runtime_pkgs=(
  libgrpc++1.51 libprotobuf32 libabsl20220623 libopenblas0-pthread libprometheus-cpp-core1.0
  libmicrohttpd12 zlib1g libsqlite3-0 libpq5 ca-certificates
)
build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libopenblas-dev prometheus-cpp-dev libmicrohttpd-dev zlib1g-dev libsqlite3-dev libpq-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev libssl-dev openssl python3-onnx
  libxsmm-dev
)
test_pkgs=(
  clang libclang-rt-14-dev llvm-14 prometheus python3 python3-grpcio python3-numpy python3-sklearn
  python3-opencv postgresql-15
  jq curl procps
)
bench_pkgs=(python3-torch)

case "$profile" in
  runtime) wanted=("${runtime_pkgs[@]}") ;;
  build) wanted=("${build_pkgs[@]}") ;;
  test) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|runtime|test|bench]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root: sudo $0 $profile" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
