// The engine's matrix products. blas.cc is the only file that includes <cblas.h>. Every
// product goes through Sgemm, which picks a route by the table bench/gemm_routes.md
// (bench/gemm_shapes.sh: every product of the benchmark networks on every implementation, one
// pinned core). A hand-written kernel stays only where it beats the libraries by >= 10%:
//   libxsmm  libxsmm 1.17's JIT kernels (single-threaded, like the direct ones, whatever
//            OpenBLAS's thread count: a second thread gains little on products this small and
//            spins on its core after each): the small and medium products
//            (more than one output column, up to 2^25 multiply-adds; 2^19 for X·Wᵀ, whose
//            transposed W it copies first). Ahead of the direct kernels there (or within 8%),
//            which it replaced, and up to 2x OpenBLAS's own kernels.
//   direct   hand-written AVX-512 kernels on the operands as stored, kept for a single row of
//            C (the weight gradient of a one-output layer: 1.2x libxsmm and OpenBLAS) and, when
//            OpenBLAS runs a fallback, a single column (X·Wᵀ of a one-output layer: 1.9x
//            libxsmm and OpenBLAS's AVX2 kernels; OpenBLAS's own kernels take it otherwise).
//   blocked  the same tiles with cache blocking and packing, kept for every larger
//            single-threaded product when OpenBLAS runs without its AVX-512 kernels on an
//            AVX-512 CPU (1.1-1.6x its AVX2 kernels and libxsmm), either because
//            OPENBLAS_CORETYPE in the environment forces a core type without them (Haswell:
//            AVX2) or because OpenBLAS's detection does not know the CPU model (0.3.21 then
//            picks SSE3 kernels);
//            BlasKernelWarning says which. Within 7% of OpenBLAS's own kernels, so dropped
//            where those run.
//   OpenBLAS the larger products on its own AVX-512 kernels or with several OpenBLAS
//            threads (the blocked kernels are single-threaded), and all products beyond
//            libxsmm's on CPUs without AVX-512.
#ifndef DESCENT_ENGINE_BLAS_H_
#define DESCENT_ENGINE_BLAS_H_

#include <string>
#include <string_view>

#include "engine/matrix.h"

namespace descent {

enum class Transpose { kNo, kYes };

// C = alpha * op(A) · op(B) + beta * C on row-major storage, op(X) = X or Xᵀ.
// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the row strides of the
// matrices as stored. When beta == 0, C is not read (NaN garbage in it is overwritten).
// Shapes are the caller's invariant: bad strides CHECK-fail.
void Sgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);

// True when the plain product op(A) · op(B) runs on OpenBLAS or the blocked kernels (the
// large products) and C = alpha * op(A) · op(B) + C (beta 1, any alpha) on the same route, so
// a caller can fold a scaling and an accumulation into the product instead of a separate pass
// over C at no cost to the product itself. False for the small products: libxsmm's kernels
// take alpha 1 only, and a separate pass over a small C runs from cache.
bool SgemmFoldsScaledAccumulation(Transpose trans_a, Transpose trans_b, int m, int n, int k);

// The same on Matrix operands: *c = alpha * op(a) · op(b) + beta * *c. *c must already have
// the product's shape (callers size their buffers once); mismatched shapes CHECK-fail.
void MatMul(Transpose trans_a, const Matrix& a, Transpose trans_b, const Matrix& b, float alpha,
            float beta, Matrix* c);

// The product through OpenBLAS only, bypassing the engine's kernels (tests compare the paths;
// benchmarks measure the sgemm peak with it).
void BlasSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
               const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

// OpenBLAS's worker-thread count is process-wide. descentd runs several jobs at once and pins
// it (usually to 1) so that jobs do not oversubscribe the cores. CHECK-fails unless threads >= 1.
void SetBlasThreads(int threads);
int BlasThreads();

// OpenBLAS's build description (version, core type), for benchmark output and --version.
std::string BlasConfig();

// Empty, or a one-line warning worth logging at startup: OpenBLAS runs kernels without
// AVX-512 on this AVX-512 CPU, and why. Either OPENBLAS_CORETYPE in the environment forces
// them (some machines set OPENBLAS_CORETYPE=Haswell because older OpenBLAS builds misbehaved on
// some processors; unsetting it lets OpenBLAS choose), or OpenBLAS 0.3.21's detection does not
// know the CPU model and fell back to SSE3 kernels (OPENBLAS_CORETYPE=SkylakeX fixes that).
// In both cases Sgemm routes the single-threaded products around OpenBLAS.
std::string BlasKernelWarning();

// BlasKernelWarning's text for the core OpenBLAS chose, the OPENBLAS_CORETYPE value in the
// environment (empty when unset) and whether the CPU has AVX-512 (exposed for tests).
std::string BlasKernelWarningFor(std::string_view core, std::string_view forced_core_type,
                                 bool cpu_has_avx512);

}  // namespace descent

#endif  // DESCENT_ENGINE_BLAS_H_
