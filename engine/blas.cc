#include "engine/blas.h"

#include <cblas.h>

#include <algorithm>

#include "engine/small_gemm.h"
#include "engine/status_macros.h"

namespace descent {
namespace {

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

}  // namespace

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
  if (internal::UseSmallGemm(trans_a, trans_b, m, n, k)) {
    internal::SmallSgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
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

std::string BlasConfig() {
  const char* config = openblas_get_config();
  std::string description = config != nullptr ? config : "OpenBLAS";
  const char* core = openblas_get_corename();
  if (core != nullptr) description += std::string(" core=") + core;
  return description;
}

}  // namespace descent
