// Every matrix product of the four benchmark networks (bench_configs.h), one at a time, on
// each implementation the engine could route it to: OpenBLAS (whatever kernels this process
// got: bench/gemm_shapes.sh runs it once on OpenBLAS's own choice and once with the core type
// the environment forces), libxsmm 1.17's JIT kernels, and the engine's direct and blocked
// kernels; plus the route Sgemm takes here. A benchmark, not a test.
//
// Per layer (W stored [out, in], a batch of b rows) the products are those of Network:
//   forward  Y  = X · Wᵀ      m=b   n=out k=in   (NoTrans, Trans)
//   dW       dW = dZᵀ · X     m=out n=in  k=b    (Trans, NoTrans)
//   dX       dX = dZ · W      m=b   n=in  k=out  (NoTrans, NoTrans), not for the first layer
// libxsmm runs through the engine's own call (engine/gemm_libxsmm.cc), dispatch included; its
// 1.17 JIT has no kernel for a transposed op(B), which is then copied first, and the time
// includes that copy ("note": "transposed copy").
//
// Every implementation's result is checked against OpenBLAS's before it is timed (exit 1 on a
// mismatch). Prints one JSON line per (product, implementation): GFLOP/s from the median of --repeats
// timed runs of at least --min_ms each, by this thread's CPU time (steadier on a shared
// machine than the wall clock; run it pinned, single-threaded: gemm_shapes.sh does).
//
// Usage: gemm_shapes [--repeats=9] [--min_ms=20] [--label=own]
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_configs.h"
#include "engine/blas.h"
#include "engine/gemm_kernels.h"


namespace descent {
namespace {

struct Product {
  std::string config;
  int layer;
  std::string kind;  // forward, dW, dX
  Transpose trans_a, trans_b;
  int m, n, k;
};

std::vector<Product> Products() {
  std::vector<Product> products;
  for (const bench::Config& config : bench::Configs()) {
    const int b = config.batch;
    for (size_t i = 0; i + 1 < config.sizes.size(); ++i) {
      const int in = config.sizes[i];
      const int out = config.sizes[i + 1];
      const int layer = static_cast<int>(i) + 1;
      products.push_back({config.name, layer, "forward", Transpose::kNo, Transpose::kYes, b, out,
                          in});
      products.push_back({config.name, layer, "dW", Transpose::kYes, Transpose::kNo, out, in, b});
      if (i > 0) {
        products.push_back({config.name, layer, "dX", Transpose::kNo, Transpose::kNo, b, in, out});
      }
    }
  }
  return products;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Median seconds per call of `call`, over `repeats` timed runs of at least `min_seconds`.
double MedianSecondsPerCall(const std::function<void()>& call, int repeats, double min_seconds) {
  int64_t calls = 1;
  while (true) {  // warm-up, which also sizes a run
    const double start = ThreadCpuSeconds();
    for (int64_t i = 0; i < calls; ++i) call();
    if (ThreadCpuSeconds() - start >= min_seconds) break;
    calls *= 2;
  }
  std::vector<double> per_call;
  for (int r = 0; r < repeats; ++r) {
    const double start = ThreadCpuSeconds();
    for (int64_t i = 0; i < calls; ++i) call();
    per_call.push_back((ThreadCpuSeconds() - start) / static_cast<double>(calls));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

struct Operands {
  std::vector<float> a, b, c, scratch;
  int lda, ldb, ldc;
};

Operands MakeOperands(const Product& p) {
  std::mt19937 random(7);
  std::normal_distribution<float> normal;
  Operands o;
  // Stored shapes: op(A) is m x k, so A is k x m when transposed; likewise B.
  o.lda = p.trans_a == Transpose::kYes ? p.m : p.k;
  o.ldb = p.trans_b == Transpose::kYes ? p.k : p.n;
  o.ldc = p.n;
  o.a.resize(static_cast<size_t>(p.m) * p.k);
  o.b.resize(static_cast<size_t>(p.k) * p.n);
  o.c.resize(static_cast<size_t>(p.m) * p.n);
  for (float& v : o.a) v = normal(random);
  for (float& v : o.b) v = normal(random);
  return o;
}

bool ParseFlag(std::string_view arg, std::string_view name, std::string* value) {
  if (arg.substr(0, name.size()) != name || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 1));
  return true;
}

int Main(int argc, char** argv) {
  int repeats = 9;
  double min_seconds = 0.02;
  std::string label = "own";
  for (int i = 1; i < argc; ++i) {
    std::string value;
    if (ParseFlag(argv[i], "--repeats", &value)) {
      repeats = std::max(1, std::atoi(value.c_str()));
    } else if (ParseFlag(argv[i], "--min_ms", &value)) {
      min_seconds = std::max(1.0, std::atof(value.c_str())) / 1000.0;
    } else if (ParseFlag(argv[i], "--label", &value)) {
      label = value;
    } else {
      std::fprintf(stderr, "usage: %s [--repeats=9] [--min_ms=20] [--label=own]\n", argv[0]);
      return 2;
    }
  }
  SetBlasThreads(1);
  std::printf("{\"blas\": \"%s\", \"libxsmm_target\": \"%s\", \"label\": \"%s\"}\n",
              BlasConfig().c_str(), internal::LibxsmmTargetArch(), label.c_str());
  for (const Product& p : Products()) {
    Operands o = MakeOperands(p);
    struct Impl {
      std::string name;
      std::function<void()> call;
      std::string note = "";
    };
    std::vector<Impl> impls;
    impls.push_back({"openblas", [&] {
                       BlasSgemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f, o.a.data(), o.lda,
                                 o.b.data(), o.ldb, 0.0f, o.c.data(), o.ldc);
                     },
                     ""});
    if (internal::GemmKernelsAvailable()) {
      if (internal::DirectGemmFits(p.trans_a, p.trans_b, p.m, p.n, p.k)) {
        impls.push_back({"direct", [&] {
                           internal::DirectSgemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f,
                                                 o.a.data(), o.lda, o.b.data(), o.ldb, 0.0f,
                                                 o.c.data(), o.ldc);
                         },
                         ""});
      }
      impls.push_back({"blocked", [&] {
                         internal::BlockedSgemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f,
                                                o.a.data(), o.lda, o.b.data(), o.ldb, 0.0f,
                                                o.c.data(), o.ldc);
                       },
                       ""});
    }
    if (p.k > 0) {
      impls.push_back({"libxsmm", [&] {
                         const bool done = internal::LibxsmmSgemm(
                             p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f, o.a.data(), o.lda,
                             o.b.data(), o.ldb, 0.0f, o.c.data(), o.ldc);
                         if (!done) std::abort();  // no kernel: every product here has one
                       },
                       p.trans_b == Transpose::kYes && p.n > 1 ? "transposed copy" : ""});
    }
    impls.push_back({"route", [&] {
                       Sgemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f, o.a.data(), o.lda,
                             o.b.data(), o.ldb, 0.0f, o.c.data(), o.ldc);
                     },
                     internal::SgemmRouteName(p.trans_a, p.trans_b, p.m, p.n, p.k)});
    const double flops = 2.0 * p.m * p.n * p.k;
    impls.front().call();
    const std::vector<float> reference = o.c;
    for (const Impl& impl : impls) {
      // Every implementation must compute the same product (to float rounding) to be timed.
      std::fill(o.c.begin(), o.c.end(), 0.0f);
      impl.call();
      double max_diff = 0;
      for (size_t i = 0; i < reference.size(); ++i) {
        max_diff = std::max(max_diff, static_cast<double>(std::abs(o.c[i] - reference[i])));
      }
      if (max_diff > 1e-3 * std::max(1, p.k)) {
        std::fprintf(stderr, "%s layer %d %s: %s differs from OpenBLAS by %g\n",
                     p.config.c_str(), p.layer, p.kind.c_str(), impl.name.c_str(), max_diff);
        return 1;
      }
      const double seconds = MedianSecondsPerCall(impl.call, repeats, min_seconds);
      std::printf(
          "{\"label\": \"%s\", \"config\": \"%s\", \"layer\": %d, \"product\": \"%s\", "
          "\"m\": %d, \"n\": %d, \"k\": %d, \"impl\": \"%s\", \"note\": \"%s\", "
          "\"us\": %.3f, \"gflops\": %.2f}\n",
          label.c_str(), p.config.c_str(), p.layer, p.kind.c_str(), p.m, p.n, p.k,
          impl.name.c_str(), impl.note.c_str(), 1e6 * seconds, flops / seconds / 1e9);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace descent

int main(int argc, char** argv) { return descent::Main(argc, argv); }
