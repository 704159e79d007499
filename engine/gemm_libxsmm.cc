// The small products on libxsmm 1.17's JIT kernels (gemm_kernels.h says when Sgemm takes them).
// libxsmm is column-major: the row-major C (m x n) = op(A)·op(B) is its Cᵀ (n x m) =
// op(B)ᵀ·op(A)ᵀ, where each row-major operand as stored is its column-major transpose. So the
// first column-major operand is B (transposed when trans_b is kYes) and the second is A
// (transposed when trans_a is kYes). Its JIT has no kernel for some transposes; such an operand
// is copied transposed (libxsmm_otrans) into a per-thread buffer first, unless it is a single
// row or column, whose storage is the same either way.
#include <immintrin.h>
#include <libxsmm.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/gemm_kernels.h"

namespace descent::internal {
namespace {

// A column-major operand as libxsmm's kernel reads it: rows x cols, leading dimension ld.
struct Operand {
  const float* data;
  libxsmm_blasint ld;
  bool transposed;  // the kernel must read it transposed (op = ᵀ)
};

// Rewrites a transposed operand so that the kernel reads it plainly: a single row or column
// just changes its leading dimension; anything else is copied transposed into `scratch`.
// `rows` x `cols` is the operand's shape as the kernel uses it (after op), `stored_ld` the
// leading dimension of its storage (the transpose, cols x rows).
Operand Untransposed(const Operand& operand, int rows, int cols, std::vector<float>* scratch) {
  if (rows == 1) return {operand.data, 1, false};
  if (cols == 1 && operand.ld == 1) return {operand.data, rows, false};
  scratch->resize(static_cast<size_t>(rows) * cols);
  libxsmm_otrans(scratch->data(), operand.data, sizeof(float), cols, rows,
                 static_cast<libxsmm_blasint>(operand.ld), rows);
  return {scratch->data(), rows, false};
}

libxsmm_smmfunction Dispatch(int m, int n, int k, const Operand& first, const Operand& second,
                             int ldc, float beta) {
  const float alpha = 1.0f;
  const int flags = (first.transposed ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                    (second.transposed ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  const libxsmm_blasint lda = first.ld, ldb = second.ld, ldc_x = ldc;
  return libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc_x, &alpha, &beta, &flags, nullptr);
}

// Dispatch through a small per-thread cache of the last kernels asked for (null answers
// included): a training step asks for the same few shapes every time, and libxsmm's own
// lookup (building a descriptor, hashing it, comparing it with its registry's entry) cost
// about as much as a tiny network's smallest products.
libxsmm_smmfunction CachedDispatch(int m, int n, int k, const Operand& first, const Operand& second,
                                   int ldc, float beta) {
  struct Key {
    int m, n, k, ldc;
    libxsmm_blasint lda, ldb;
    bool trans_first, trans_second, beta_one;
    bool operator==(const Key&) const = default;
  };
  struct Entry {
    Key key;
    libxsmm_smmfunction kernel;
  };
  constexpr int kEntries = 16;
  thread_local Entry entries[kEntries];
  thread_local int used = 0, next = 0;
  const Key key{.m = m,
                .n = n,
                .k = k,
                .ldc = ldc,
                .lda = first.ld,
                .ldb = second.ld,
                .trans_first = first.transposed,
                .trans_second = second.transposed,
                .beta_one = beta == 1.0f};
  for (int i = 0; i < used; ++i) {
    if (entries[i].key == key) return entries[i].kernel;
  }
  Entry& entry = entries[next];
  entry = {key, Dispatch(m, n, k, first, second, ldc, beta)};
  next = (next + 1) % kEntries;
  used = std::max(used, next == 0 ? kEntries : next);
  return entry.kernel;
}

// Up to these many multiply-adds libxsmm's kernels, which read the operands unpacked, are
// ahead of or level with OpenBLAS and the engine's kernels (bench/gemm_routes.md): 2^25
// (medium's 256 x 784 x 128 dW), 2^19 when an operand is copied transposed first (small's
// 64 x 128 x 64 forward product; at 64 x 128 x 128 the copy already costs more than it gains).
constexpr int64_t kMaxMultiplyAdds = int64_t{1} << 25;
constexpr int64_t kMaxCopyingMultiplyAdds = int64_t{1} << 19;

// libxsmm 1.17's JIT kernels return with the upper halves of the vector registers dirty (no
// vzeroupper). Code compiled for SSE that runs next (the optimizers' loops) then pays a
// transition on every instruction: Adam's update on the small network took 4.5x as long.
// Called after each kernel; the kernels exist only on CPUs with AVX.
__attribute__((target("avx"))) void ClearUpperVectorState() { _mm256_zeroupper(); }

void RunKernel(libxsmm_smmfunction kernel, const float* first, const float* second, float* c) {
  kernel(first, second, c);
  ClearUpperVectorState();
}

// libxsmm_init once per process (it would also run on first use, but not thread-safely).
bool LibxsmmInitialized() {
  static const bool initialized = [] {
    libxsmm_init();
    return true;
  }();
  return initialized;
}

}  // namespace

const char* LibxsmmTargetArch() {
  LibxsmmInitialized();
  return libxsmm_get_target_arch();
}

bool PreferLibxsmm(Transpose /*trans_a*/, Transpose trans_b, int m, int n, int k) {
  // One output column makes a one-row column-major kernel, which vectorises nothing.
  if (n == 1) return false;
  // A transposed op(B) (Bᵀ, the forward product X·Wᵀ) has no 1.17 JIT kernel and is copied,
  // which pays only while the product is small.
  const bool copies = trans_b == Transpose::kYes;
  const int64_t multiply_adds = int64_t{m} * n * k;
  return multiply_adds <= (copies ? kMaxCopyingMultiplyAdds : kMaxMultiplyAdds);
}

bool LibxsmmSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                  const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || !LibxsmmInitialized()) return false;
  if (m == 0 || n == 0) return true;
  if (k == 0) return false;
  // Column-major: C' (n x m) = first (n x k) · second (k x m).
  Operand first{b, ldb, trans_b == Transpose::kYes};
  Operand second{a, lda, trans_a == Transpose::kYes};
  if (libxsmm_smmfunction kernel = CachedDispatch(n, m, k, first, second, ldc, beta)) {
    RunKernel(kernel, first.data, second.data, c);
    return true;
  }
  thread_local std::vector<float> first_scratch, second_scratch;
  if (first.transposed) first = Untransposed(first, n, k, &first_scratch);
  if (second.transposed) second = Untransposed(second, k, m, &second_scratch);
  libxsmm_smmfunction kernel = CachedDispatch(n, m, k, first, second, ldc, beta);
  if (kernel == nullptr) return false;
  RunKernel(kernel, first.data, second.data, c);
  return true;
}

}  // namespace descent::internal
