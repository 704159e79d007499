#!/usr/bin/env bash
# The engine against PyTorch on the four configs of PERFORMANCE.md, both pinned to one core
# in the same run, config by config (engine, then PyTorch), each the median of repeats; then
# the ratios against the targets, and the large config against the sgemm peak measured in
# this run. A benchmark, not a test: run by `make bench`, never by ctest.
#
# Usage: bench/run.sh [build-dir]        (default: build)
# The PyTorch peer needs Debian's python3-torch, a benchmark-only dependency:
# `deploy/install-deps.sh bench` installs it (never the test profile or CI). Without it the
# engine's figures are printed alone, with no ratios.
# Environment: BENCH_CPU (core to pin, default 0), BENCH_CONFIGS (default
#   tiny,small,medium,large), BENCH_SECONDS (one timed run, default 1), BENCH_REPEATS (5),
#   BENCH_FLUSH_DENORMALS (default 1: both sides flush denormals to zero, the engine with
#   ScopedFlushDenormals, PyTorch with torch.set_flush_denormal(True); 0: neither does).
#   Without flushing, the engine's long runs of the tiny net reach the state where Adam's
#   moments of dead ReLU units are denormal and each of their updates takes a microcode
#   assist, while PyTorch's 30x fewer steps mostly do not: the two would be measured in
#   different states of the same training run.
#
# OpenBLAS's own kernels: machines here may set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) in the
# environment, which forces a fallback (OPENBLAS_CORETYPE=Haswell: AVX2 kernels on this AVX-512
# CPU, about half its sgemm peak). The benchmark commands alone run under
# `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`, for the engine and PyTorch (which uses the
# same OpenBLAS) alike, and the kernels OpenBLAS then chose are printed. When the environment
# forced a core type, the sgemm peak on the forced kernels is printed beside the others, and
# BENCH_FORCED=1 also runs the configs on them. Tests and CI leave the environment alone.
# If OpenBLAS's own detection falls back to kernels without AVX-512 on an AVX-512 CPU (0.3.21
# does not know every newer model and then picks its SSE3 "Prescott" kernels),
# OPENBLAS_CORETYPE=SkylakeX is set for both sides instead and a line says so.
#
# Pinning: taskset -c $BENCH_CPU for both processes; OPENBLAS_NUM_THREADS=1 (and the engine's
# SetBlasThreads(1)); torch.set_num_threads(1).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
bench="$build_dir/bench/engine_bench"
if [ ! -x "$bench" ]; then
  echo "bench/run.sh: $bench not found; build first (make bench)" >&2
  exit 1
fi
cpu=${BENCH_CPU:-0}
configs=${BENCH_CONFIGS:-tiny,small,medium,large}
seconds=${BENCH_SECONDS:-1}
repeats=${BENCH_REPEATS:-5}
engine_flags=(--threads=1 --seconds="$seconds" --repeats="$repeats")
peer_flags=(--threads 1 --seconds "$seconds" --repeats "$repeats")
if [ "${BENCH_FLUSH_DENORMALS:-1}" = 1 ]; then
  engine_flags+=(--flush_denormals)
  peer_flags+=(--flush-denormals)
fi
forced_core=${OPENBLAS_CORETYPE:-}
forced_l2=${OPENBLAS_L2_SIZE:-}
own_kernels=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

has_avx512() {
  for flag in avx512f avx512bw avx512dq avx512vl; do
    grep -qw "$flag" /proc/cpuinfo || return 1
  done
}
core=$("${own_kernels[@]}" "$bench" --blas_info | sed -n 's/.*core=\([A-Za-z0-9]*\).*/\1/p')
case "$core" in
  SkylakeX | Cooperlake | SapphireRapids) ;;
  *)
    if has_avx512; then
      echo "# OpenBLAS chose its $core kernels on an AVX-512 CPU it does not recognise;" \
        "setting OPENBLAS_CORETYPE=SkylakeX for both sides"
      own_kernels=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX)
    fi
    ;;
esac
pin=("${own_kernels[@]}" taskset -c "$cpu")
echo "# OpenBLAS on its own kernels: $("${pin[@]}" "$bench" --blas_info)"
if [ -n "$forced_core" ]; then
  echo "# the environment forces OPENBLAS_CORETYPE=$forced_core${forced_l2:+ OPENBLAS_L2_SIZE=$forced_l2}" \
    "(unset for this benchmark; the \"forced\" lines below keep it)"
fi
echo "# pinned: taskset -c $cpu, OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1);" \
  "median of $repeats runs of ~${seconds}s; denormals flushed: ${BENCH_FLUSH_DENORMALS:-1};" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

peer=(/usr/bin/python3 bench/pytorch_peer.py "${peer_flags[@]}")
have_torch=1
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  have_torch=0
  echo "# /usr/bin/python3 cannot import torch (Debian: python3-torch; deploy/install-deps.sh bench):" \
    "engine only, no ratios"
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
IFS=',' read -ra names <<<"$configs"
for name in "${names[@]}"; do
  "${pin[@]}" "$bench" --configs="$name" "${engine_flags[@]}" | tee -a "$results"
  if [ "$have_torch" = 1 ]; then
    "${pin[@]}" "${peer[@]}" --configs "$name" | tee -a "$results"
  fi
done
"${pin[@]}" "$bench" --configs=sgemm "${engine_flags[@]}" | tee -a "$results"
# Beside them, on the kernels the environment forces (labelled "forced"): the sgemm peak, and
# with BENCH_FORCED=1 every config on both sides.
if [ -n "$forced_core" ]; then
  forced=(taskset -c "$cpu")
  label='s/"config": "\([a-z]*\)"/"config": "\1", "openblas": "forced '"$forced_core"'"/'
  forced_configs=sgemm
  if [ "${BENCH_FORCED:-0}" = 1 ]; then
    forced_configs="$configs,sgemm"
    if [ "$have_torch" = 1 ]; then
      "${forced[@]}" "${peer[@]}" --configs "$configs" | sed "$label" | tee -a "$results"
    fi
  fi
  "${forced[@]}" "$bench" --configs="$forced_configs" "${engine_flags[@]}" | sed "$label" |
    tee -a "$results"
fi

# Ratio lines. CPU-time ratios are the steadier ones on a shared machine; wall-time ratios are
# printed next to them.
python3 - "$results" <<'PY'
import json
import sys

# PERFORMANCE.md's targets: engine / PyTorch steps per second, and the large config's
# fraction of the sgemm peak (its ratio to PyTorch has no target).
targets = {"tiny": 80.0, "small": 5.0, "medium": 7.0}
peak_target = 0.90
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
for kernels in sorted({r.get("openblas", "own") for r in rows}, key=lambda k: k != "own"):
    same = [r for r in rows if r.get("openblas", "own") == kernels]
    engine = {r["config"]: r for r in same if r["impl"] == "descent"}
    peer = {r["config"]: r for r in same if r["impl"] == "pytorch"}
    sgemm = next((r for r in same if r["config"] == "sgemm"), None)
    where = "OpenBLAS %s kernels" % kernels
    if sgemm:
        print("sgemm  2048^3 %.1f GFLOP/s by CPU time (%.1f by wall time); %s" %
              (sgemm["cpu_gflops"], sgemm["gflops"], where))
    for name, e in engine.items():
        if name in peer:
            p = peer[name]
            cpu = e["cpu_steps_per_second"] / p["cpu_steps_per_second"]
            wall = e["steps_per_second"] / p["steps_per_second"]
            target = targets.get(name)
            verdict = "" if target is None else "; target >= %gx: %s" % (
                target, "met" if cpu >= target else "MISSED")
            print("ratio %-6s %7.2fx by CPU time (engine %.1f / pytorch %.1f steps/s), %7.2fx "
                  "by wall time%s; %s" % (name, cpu, e["cpu_steps_per_second"],
                                          p["cpu_steps_per_second"], wall, verdict, where))
        if name == "large" and sgemm:
            cpu = e["cpu_gflops"] / sgemm["cpu_gflops"]
            wall = e["gflops"] / sgemm["gflops"]
            # The target is a fraction of OpenBLAS's own peak; a forced fallback's is lower.
            verdict = "" if kernels != "own" else "; target >= %.2f: %s" % (
                peak_target, "met" if cpu >= peak_target else "MISSED")
            print("peak  large  %7.2f of sgemm peak by CPU time (%.1f / %.1f GFLOP/s), %.2f by "
                  "wall time%s; %s" % (cpu, e["cpu_gflops"], sgemm["cpu_gflops"], wall, verdict,
                                       where))
PY

# Service overhead (bench/service_bench.cc): the tiny and small configs as jobs through an
# in-process descentd with a watcher receiving every step, against the engine alone, in one
# run. Not pinned: the gRPC and watcher threads may use the other core, as in production.
service_bench="$build_dir/bench/service_bench"
if [ -x "$service_bench" ]; then
  "${own_kernels[@]}" "$service_bench" --seconds="$seconds" --repeats="$repeats"
fi

# Cores per job (bench/job_manager_bench.cc concurrent): the large config on a two-worker
# manager, one job on one core against one job alone (it gets every core) and two jobs at once
# (one core each), and the threads that did the work; PERFORMANCE.md's targets on an idle
# 2-core machine are >= 1.7x and >= 1.8x. Needs the cores to itself: on a busy machine the
# ratios say little (the load average is printed with them).
job_manager_bench="$build_dir/bench/job_manager_bench"
if [ -x "$job_manager_bench" ]; then
  "${own_kernels[@]}" "$job_manager_bench" concurrent large "$repeats"
fi

# TLS and token overhead (bench/security_bench.cc): connection set-up and per-call latency of
# plaintext, TLS, mutual TLS and bearer tokens on an in-process descentd.
security_bench="$build_dir/bench/security_bench"
if [ -x "$security_bench" ] && command -v openssl >/dev/null; then
  "${own_kernels[@]}" "$security_bench"
fi

# Load (bench/load.sh): 50 clients submitting tiny jobs to a real descentd on loopback and
# watching every step; BENCH_LOAD=0 skips it.
if [ "${BENCH_LOAD:-1}" = 1 ] && [ -x "$build_dir/bench/load_bench" ]; then
  "${own_kernels[@]}" bench/load.sh "$build_dir"
fi
