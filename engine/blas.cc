#include "engine/blas.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/status_macros.h"
#include "engine/gemm_kernels.h"

namespace descent {
namespace {

enum class GemmRoute { kLibxsmm, kDirect, kBlocked, kOpenBlas };

CBLAS_TRANSPOSE ToCblas(Transpose t) { return t == Transpose::kYes ? CblasTrans : CblasNoTrans; }

// Row-major storage of op(X) (rows x cols) holds X as cols x rows when transposed.
int StoredCols(Transpose t, int rows, int cols) { return t == Transpose::kYes ? rows : cols; }

void CheckShapes(Transpose trans_a, Transpose trans_b, int m, int n, int k, int lda, int ldb,
                 int ldc) {
  DESCENT_CHECK(m >= 0 && n >= 0 && k >= 0);
  DESCENT_CHECK(lda >= std::max(1, StoredCols(trans_a, m, k)));
  DESCENT_CHECK(ldb >= std::max(1, StoredCols(trans_b, k, n)));
  DESCENT_CHECK(ldc >= std::max(1, n));
}

bool IsAvx512Core(std::string_view core) {
  return core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
}

std::string OpenBlasCoreName() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "";
}

// True when OpenBLAS runs its AVX-512 kernels. It does not on an AVX-512 CPU in two cases
// (BlasKernelWarningFor tells them apart): OPENBLAS_CORETYPE in the environment forces a core
// type without them (machines that set Haswell get AVX2 kernels, about half the sgemm peak
// here), or OpenBLAS 0.3.21's detection does not know the CPU model and falls back to its
// SSE3 "Prescott" kernels (about 15x slower).
bool OpenBlasHasAvx512Kernels() {
  static const bool has = IsAvx512Core(OpenBlasCoreName());
  return has;
}

// The routes kept, each where bench/gemm_shapes.sh measured it ahead (blas.h lists them).
// The small products take the single-threaded routes whatever OpenBLAS's thread count: a
// second thread gains little on them and then spins on its core after each product.
GemmRoute ChooseRoute(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                      float beta) {
  const bool own_kernels = OpenBlasHasAvx512Kernels();
  if (internal::GemmKernelsAvailable() && (m == 1 || (n == 1 && !own_kernels)) &&
      internal::PreferDirectGemm(trans_a, trans_b, m, n, k)) {
    return GemmRoute::kDirect;
  }
  if (alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && k > 0 &&
      internal::PreferLibxsmm(trans_a, trans_b, m, n, k)) {
    return GemmRoute::kLibxsmm;
  }
  if (!internal::GemmKernelsAvailable() || own_kernels || BlasThreads() > 1) {
    return GemmRoute::kOpenBlas;
  }
  return GemmRoute::kBlocked;
}

}  // namespace

namespace internal {

const char* SgemmRouteName(Transpose trans_a, Transpose trans_b, int m, int n, int k) {
  switch (ChooseRoute(trans_a, trans_b, m, n, k, 1.0f, 0.0f)) {
    case GemmRoute::kLibxsmm:
      return "libxsmm";
    case GemmRoute::kDirect:
      return "direct";
    case GemmRoute::kBlocked:
      return "blocked";
    case GemmRoute::kOpenBlas:
      return "openblas";
  }
  return "";
}

}  // namespace internal

bool SgemmFoldsScaledAccumulation(Transpose trans_a, Transpose trans_b, int m, int n, int k) {
  // Any alpha other than 1 stands for all of them: no route looks at its value.
  const GemmRoute route = ChooseRoute(trans_a, trans_b, m, n, k, 1.0f, 0.0f);
  return (route == GemmRoute::kOpenBlas || route == GemmRoute::kBlocked) &&
         ChooseRoute(trans_a, trans_b, m, n, k, 0.5f, 1.0f) == route;
}

void BlasSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
               const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  CheckShapes(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ToCblas(trans_a), ToCblas(trans_b), m, n, k, alpha, a, lda, b, ldb,
              beta, c, ldc);
}

void Sgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  CheckShapes(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  switch (ChooseRoute(trans_a, trans_b, m, n, k, alpha, beta)) {
    case GemmRoute::kLibxsmm:
      if (internal::LibxsmmSgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) {
        return;
      }
      break;  // no kernel for this product: OpenBLAS
    case GemmRoute::kDirect:
      internal::DirectSgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case GemmRoute::kBlocked:
      internal::BlockedSgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case GemmRoute::kOpenBlas:
      break;
  }
  cblas_sgemm(CblasRowMajor, ToCblas(trans_a), ToCblas(trans_b), m, n, k, alpha, a, lda, b, ldb,
              beta, c, ldc);
}

void MatMul(Transpose trans_a, const Matrix& a, Transpose trans_b, const Matrix& b, float alpha,
            float beta, Matrix* c) {
  const int m = trans_a == Transpose::kYes ? a.cols() : a.rows();
  const int k = trans_a == Transpose::kYes ? a.rows() : a.cols();
  const int kb = trans_b == Transpose::kYes ? b.cols() : b.rows();
  const int n = trans_b == Transpose::kYes ? b.rows() : b.cols();
  DESCENT_CHECK(k == kb);
  DESCENT_CHECK(c->rows() == m && c->cols() == n);
  Sgemm(trans_a, trans_b, m, n, k, alpha, a.data(), std::max(1, a.cols()), b.data(),
        std::max(1, b.cols()), beta, c->data(), std::max(1, n));
}

void SetBlasThreads(int threads) {
  DESCENT_CHECK(threads >= 1);
  openblas_set_num_threads(threads);
}

int BlasThreads() { return openblas_get_num_threads(); }

std::string BlasKernelWarningFor(std::string_view core, std::string_view forced_core_type,
                                 bool cpu_has_avx512) {
  if (!cpu_has_avx512 || IsAvx512Core(core)) return "";
  const std::string chosen = core.empty() ? std::string("generic") : std::string(core);
  const std::string consequence =
      " on this AVX-512 CPU; the engine's own AVX-512 kernels take the single-threaded "
      "products, OpenBLAS keeps the multi-threaded ones";
  if (!forced_core_type.empty()) {
    return "OPENBLAS_CORETYPE=" + std::string(forced_core_type) +
           " in the environment forces OpenBLAS onto its " + chosen + " kernels" + consequence +
           "; unset OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) to let OpenBLAS choose its own "
           "kernels for this CPU";
  }
  return "OpenBLAS does not recognise this CPU model and fell back to its " + chosen +
         " kernels" + consequence + "; OPENBLAS_CORETYPE=SkylakeX in the environment restores "
         "OpenBLAS's AVX-512 kernels";
}

std::string BlasKernelWarning() {
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return BlasKernelWarningFor(OpenBlasCoreName(), forced != nullptr ? forced : "",
                              internal::GemmKernelsAvailable());
}

std::string BlasConfig() {
  const char* config = openblas_get_config();
  std::string description = config != nullptr ? config : "OpenBLAS";
  const char* core = openblas_get_corename();
  if (core != nullptr) description += std::string(" core=") + core;
  return description;
}

}  // namespace descent
