// Hand-written single-precision matrix products for the small shapes of small networks
// (a 13-64-1 net at batch 32 multiplies 32x13 by 13x64). There OpenBLAS's per-call cost
// (argument checks, dispatch, packing into its blocked layout) is larger than the
// arithmetic, so these kernels work on the caller's row-major storage directly: AVX-512
// register tiles of up to 6 rows x 64 columns over the whole k, masked loads and stores at
// the edges, and a dot-product form when op(B) has only a few columns.
// Only blas.cc calls these; everything else uses Sgemm.
#ifndef DESCENT_ENGINE_SMALL_GEMM_H_
#define DESCENT_ENGINE_SMALL_GEMM_H_

#include "engine/blas.h"

namespace descent::internal {

// op(B) is repacked into a stack buffer of this many floats when the kernel needs its
// columns contiguous (trans_b kYes for the tiled form, kNo for the dot-product form);
// larger operands go to OpenBLAS.
inline constexpr int kMaxPackedB = 16384;

// True when this CPU has AVX-512F (checked once).
bool SmallGemmAvailable();

// Whether Sgemm should use SmallSgemm for this problem: the CPU supports it, the problem is
// small enough that OpenBLAS's overhead dominates, and a repacked B fits the pack buffer.
bool UseSmallGemm(Transpose trans_a, Transpose trans_b, int m, int n, int k);

// Same contract as Sgemm. CHECK-fails unless SmallGemmAvailable() and any repacked op(B)
// fits kMaxPackedB floats (UseSmallGemm says so).
void SmallSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_SMALL_GEMM_H_
