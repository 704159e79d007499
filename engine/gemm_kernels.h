// The matrix products behind Sgemm in blas.h (which says when each route runs and why):
//
// libxsmm (gemm_libxsmm.cc): libxsmm 1.17's JIT kernels for the small and medium products.
// Direct (gemm_direct.cc): hand-written AVX-512 kernels that read the caller's row-major
//   storage as it is: register tiles of up to 6 rows x 64 columns over the whole k, masked
//   loads and stores at the edges, and a dot-product form when op(B) has only a few columns.
//   Sgemm keeps them for a single row or column of C.
// Blocked (gemm_blocked.cc): the classic packed scheme (Goto / BLIS): op(B) in blocks of
//   kBlockK rows packed into 64-column micro-panels that stay in L1, op(A) in blocks packed
//   into 6-row micro-panels that stay in L2, the same register tile on top. It does not
//   depend on which kernels OpenBLAS runs (an OPENBLAS_CORETYPE forced in the environment, or
//   OpenBLAS 0.3.21's SSE3 fallback on CPU models newer than it), and it is single-threaded:
//   Sgemm gives multi-threaded products to OpenBLAS.
// Only blas.cc, the tests and bench/gemm_shapes call these; everything else uses Sgemm.
#ifndef DESCENT_ENGINE_GEMM_KERNELS_H_
#define DESCENT_ENGINE_GEMM_KERNELS_H_

#include "engine/blas.h"

namespace descent::internal {

// The direct path repacks op(B) into a stack buffer of this many floats when its kernel needs
// op(B)'s columns contiguous (trans_b kYes for the tiled form, kNo for the dot-product form).
inline constexpr int kMaxPackedB = 16384;

// True when this CPU has AVX-512F (checked once). Without it every product goes to OpenBLAS.
bool GemmKernelsAvailable();

// Whether DirectSgemm can take this problem at all: any repacked op(B) fits kMaxPackedB
// floats.
bool DirectGemmFits(Transpose trans_a, Transpose trans_b, int m, int n, int k);

// Whether the direct path suits this problem: small enough that packing does not pay, and
// DirectGemmFits.
bool PreferDirectGemm(Transpose trans_a, Transpose trans_b, int m, int n, int k);

// Same contract as Sgemm. DirectSgemm CHECK-fails unless GemmKernelsAvailable() and any
// repacked op(B) fits kMaxPackedB floats; BlockedSgemm needs only GemmKernelsAvailable().
// BlockedSgemm keeps per-thread packing buffers that grow to the largest block seen (at most
// a few MB) and are reused, so repeated products of one shape do not allocate.
void DirectSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
void BlockedSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                  const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

// libxsmm 1.17's JIT kernels (gemm_libxsmm.cc). LibxsmmSgemm has Sgemm's contract but takes
// only alpha == 1 and beta 0 or 1 with k > 0, and returns false (C untouched) when it cannot
// take the product; it never allocates after the first product of a shape on a thread.
bool LibxsmmSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                  const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

// The instruction set libxsmm generates code for on this CPU (e.g. "cpx"), for benchmarks.
const char* LibxsmmTargetArch();

// Whether the libxsmm route suits this product (bench/gemm_routes.md has the measurements):
// more than one output column and up to 2^25 multiply-adds, 2^19 when op(B) is transposed
// (its 1.17 JIT has no kernel for that, so B is copied transposed first).
bool PreferLibxsmm(Transpose trans_a, Transpose trans_b, int m, int n, int k);

// The route Sgemm takes for this product in this process: "libxsmm", "direct", "blocked" or
// "openblas" (blas.cc; for benchmarks).
const char* SgemmRouteName(Transpose trans_a, Transpose trans_b, int m, int n, int k);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_GEMM_KERNELS_H_
