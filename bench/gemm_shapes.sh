#!/usr/bin/env bash
# The route table: every matrix product of the four benchmark networks on every
# implementation (bench/gemm_shapes.cc), one pinned core, in one run:
#   openblas  OpenBLAS on its own kernels (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
#   forced    OpenBLAS on the core type the environment forces (a second process with the
#             environment as it is; BENCH_FORCED_CORETYPE=Haswell when the environment sets
#             none), the fallback users meet on machines that set it
#   libxsmm   libxsmm 1.17's JIT kernels, through the engine's call
#   direct, blocked  the engine's kernels (engine/gemm_kernels.h)
#   route     what Sgemm does, and its route, in each of the two processes
# GFLOP/s from the median of repeats by CPU time; then a Markdown table with, per product,
# the best library against the best engine kernel. A benchmark, not a test.
#
# Usage: bench/gemm_shapes.sh [build-dir]    (default: build)
# Environment: BENCH_CPU (core, default 0), BENCH_REPEATS (9), BENCH_MIN_MS (20),
#   BENCH_JSON (file to keep the JSON lines in).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
shapes="$build_dir/bench/gemm_shapes"
if [ ! -x "$shapes" ]; then
  echo "bench/gemm_shapes.sh: $shapes not found; build first (ninja -C $build_dir gemm_shapes)" >&2
  exit 1
fi
cpu=${BENCH_CPU:-0}
flags=(--repeats="${BENCH_REPEATS:-9}" --min_ms="${BENCH_MIN_MS:-20}")
forced_core=${OPENBLAS_CORETYPE:-${BENCH_FORCED_CORETYPE:-Haswell}}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
json=${BENCH_JSON:-$(mktemp)}
[ -n "${BENCH_JSON:-}" ] || trap 'rm -f "$json"' EXIT
: >"$json"

echo "# pinned: taskset -c $cpu, one thread; load average $(cut -d' ' -f1-3 /proc/loadavg)"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c "$cpu" "$shapes" "${flags[@]}" \
  --label=own >>"$json"
env OPENBLAS_CORETYPE="$forced_core" taskset -c "$cpu" "$shapes" "${flags[@]}" \
  --label=forced >>"$json"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$json" <<'PY'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
for r in rows:
    if "blas" in r:
        print("# %s: %s; libxsmm JIT target %s" % (r["label"], r["blas"], r["libxsmm_target"]))
table = {}
order = []
for r in rows:
    if "impl" not in r:
        continue
    key = (r["config"], r["layer"], r["product"], r["m"], r["n"], r["k"])
    if key not in table:
        table[key] = {}
        order.append(key)
    cell = table[key]
    if r["label"] == "own":
        if r["impl"] == "route":
            cell["route"] = r["note"]
            cell["route_gflops"] = r["gflops"]
        else:
            cell[r["impl"]] = r["gflops"]
            if r["impl"] == "libxsmm":
                cell["libxsmm_note"] = r["note"]
    elif r["impl"] == "openblas":
        cell["forced"] = r["gflops"]
    elif r["impl"] == "route":
        cell["route_forced"] = r["note"]
        cell["route_forced_gflops"] = r["gflops"]


def fmt(value):
    return "-" if value is None else "%.1f" % value


print()
print("| config | layer | product | m×n×k | OpenBLAS own | OpenBLAS forced | libxsmm | direct "
      "| blocked | engine best / library best (own; forced) | route own | route forced |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in order:
    c = table[key]
    config, layer, product, m, n, k = key
    engine = max(c.get("direct") or 0, c.get("blocked") or 0)
    own_lib = max(c.get("openblas") or 0, c.get("libxsmm") or 0)
    forced_lib = max(c.get("forced") or 0, c.get("libxsmm") or 0)
    ratio = "%.2f; %.2f" % (engine / own_lib, engine / forced_lib) if engine and own_lib else "-"
    xsmm = fmt(c.get("libxsmm"))
    if c.get("libxsmm_note", "").startswith("transposed"):
        xsmm += "ᵗ"
    print("| %s | %d | %s | %d×%d×%d | %s | %s | %s | %s | %s | %s | %s %s | %s %s |" %
          (config, layer, product, m, n, k, fmt(c.get("openblas")), fmt(c.get("forced")), xsmm,
           fmt(c.get("direct")), fmt(c.get("blocked")), ratio, c.get("route", "-"),
           fmt(c.get("route_gflops")), c.get("route_forced", "-"),
           fmt(c.get("route_forced_gflops"))))
print()
print("GFLOP/s by CPU time, median of repeats; ᵗ: libxsmm 1.17's JIT has no kernel for this "
      "transpose, the time includes a transposed copy of the operand.")
PY
