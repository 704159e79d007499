// Hand-written single-precision matrix products (AVX-512), behind Sgemm in blas.h:
//
// Direct: for the small shapes of small networks (a 13-64-1 net at batch 32 multiplies 32x13
//   by 13x64). OpenBLAS's per-call cost (argument checks, dispatch, packing into its blocked
//   layout) is larger than the arithmetic there, so these kernels read the caller's row-major
//   storage as it is: register tiles of up to 6 rows x 64 columns over the whole k, masked
//   loads and stores at the edges, and a dot-product form when op(B) has only a few columns.
// Blocked: for everything larger, the classic packed scheme (Goto / BLIS): op(B) in blocks of
//   kBlockK rows packed into 64-column micro-panels that stay in L1, op(A) in blocks packed
//   into 6-row micro-panels that stay in L2, the same register tile on top. It does not
//   depend on which kernels OpenBLAS runs (an OPENBLAS_CORETYPE forced in the environment, or
//   OpenBLAS 0.3.21's SSE3 fallback on CPU models newer than it), and it is single-threaded:
//   Sgemm gives multi-threaded products to OpenBLAS.
// Only blas.cc and the tests call these; everything else uses Sgemm.
#ifndef DESCENT_ENGINE_GEMM_KERNELS_H_
#define DESCENT_ENGINE_GEMM_KERNELS_H_

#include "engine/blas.h"

namespace descent::internal {

// The direct path repacks op(B) into a stack buffer of this many floats when its kernel needs
// op(B)'s columns contiguous (trans_b kYes for the tiled form, kNo for the dot-product form).
inline constexpr int kMaxPackedB = 16384;

// True when this CPU has AVX-512F (checked once). Without it every product goes to OpenBLAS.
bool GemmKernelsAvailable();

// Whether the direct path suits this problem: small enough that packing does not pay, and
// any repacked op(B) fits kMaxPackedB floats.
bool PreferDirectGemm(Transpose trans_a, Transpose trans_b, int m, int n, int k);

// Same contract as Sgemm. DirectSgemm CHECK-fails unless GemmKernelsAvailable() and any
// repacked op(B) fits kMaxPackedB floats; BlockedSgemm needs only GemmKernelsAvailable().
// BlockedSgemm keeps per-thread packing buffers that grow to the largest block seen (at most
// a few MB) and are reused, so repeated products of one shape do not allocate.
void DirectSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
void BlockedSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                  const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_GEMM_KERNELS_H_
