#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "base/status_macros.h"
#include "engine/cpu_features.h"
#include "engine/gemm_kernels.h"
#include "engine/gemm_tile.h"

namespace descent::internal {
namespace {

constexpr int kPanelVectors = 4;  // a tile is at most 4 vectors = 64 columns wide

// Up to this many multiply-adds the direct kernels beat packing: their operands stay in L1/L2
// without it. Sgemm takes them only for a single row or column of C (bench/gemm_routes.md).
constexpr int64_t kMaxDirectMultiplyAdds = int64_t{1} << 21;

int RoundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

// Every row of one column panel (columns <= NV * 16) of C.
template <Transpose kTransA, int NV>
DESCENT_TARGET_AVX512 void Panel(int m, int k, int columns, float alpha, const float* a, int lda,
                                 const float* b, int ldb, float beta, float* c, int ldc) {
  constexpr int kRows = TileRows<NV>();
  auto row_of_a = [&](int i) {
    return kTransA == Transpose::kNo ? a + static_cast<ptrdiff_t>(i) * lda : a + i;
  };
  int i = 0;
  for (; i + kRows <= m; i += kRows) {
    Tile<kTransA, kRows, NV>(k, columns, alpha, row_of_a(i), lda, b, ldb, beta,
                             c + static_cast<ptrdiff_t>(i) * ldc, ldc);
  }
  if (i < m) {
    TileRemainder<kTransA, NV, kRows - 1>(m - i, k, columns, alpha, row_of_a(i), lda, b, ldb, beta,
                                          c + static_cast<ptrdiff_t>(i) * ldc, ldc);
  }
}

// C = alpha * op(A) · B + beta * C with B stored k x n row-major.
template <Transpose kTransA>
DESCENT_TARGET_AVX512 void PanelProduct(int m, int n, int k, float alpha, const float* a, int lda,
                                        const float* b, int ldb, float beta, float* c, int ldc) {
  for (int j = 0; j < n; j += kPanelVectors * kLanes) {
    const int columns = std::min(n - j, kPanelVectors * kLanes);
    switch ((columns + kLanes - 1) / kLanes) {
      case 1:
        Panel<kTransA, 1>(m, k, columns, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
        break;
      case 2:
        Panel<kTransA, 2>(m, k, columns, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
        break;
      case 3:
        Panel<kTransA, 3>(m, k, columns, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
        break;
      default:
        Panel<kTransA, 4>(m, k, columns, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
        break;
    }
  }
}

// Sum of the 16 lanes. The zero-masking forms with an all-ones mask compile to the plain
// shuffles; the unmasked intrinsics (and _mm512_reduce_add_ps) trip GCC 12's
// -Wmaybe-uninitialized inside its own headers.
DESCENT_TARGET_AVX512 inline float HorizontalSum(__m512 v) {
  constexpr __mmask16 kAll = 0xFFFF;
  v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(kAll, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(kAll, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_maskz_permute_ps(kAll, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_maskz_permute_ps(kAll, v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

// Dot-product form for an op(B) with few columns, A not transposed: C[i][j] is the dot
// product of row i of A with row j of `bt` (op(B) transposed, n x k, stride ldbt).
// Vectorises over k instead of wasting 15 of 16 lanes on a one-column panel.
DESCENT_TARGET_AVX512 void DotProduct(int m, int n, int k, float alpha, const float* a, int lda,
                                      const float* bt, int ldbt, float beta, float* c, int ldc) {
  constexpr int kRows = 4;
  const __mmask16 last = TailMask(k - (std::max(k - 1, 0) / kLanes) * kLanes);
  for (int j = 0; j < n; ++j) {
    const float* b_row = bt + static_cast<ptrdiff_t>(j) * ldbt;
    for (int i = 0; i < m; i += kRows) {
      const int rows = std::min(kRows, m - i);
      __m512 acc[kRows] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                           _mm512_setzero_ps()};
      for (int p = 0; p < k; p += kLanes) {
        const __mmask16 mask = p + kLanes >= k ? last : static_cast<__mmask16>(0xFFFF);
        const __m512 bv = _mm512_maskz_loadu_ps(mask, b_row + p);
        for (int r = 0; r < rows; ++r) {
          const float* a_row = a + static_cast<ptrdiff_t>(i + r) * lda;
          acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a_row + p), bv, acc[r]);
        }
      }
      for (int r = 0; r < rows; ++r) {
        float* out = c + static_cast<ptrdiff_t>(i + r) * ldc + j;
        const float sum = alpha * HorizontalSum(acc[r]);
        *out = beta == 0.0f ? sum : sum + beta * *out;
      }
    }
  }
}

// The dot form pays a horizontal reduction per output; the panel form pays one FMA per
// (row, k) for each 16 columns. Choose the one with fewer vector operations.
bool PreferDotProduct(Transpose trans_a, int n, int k) {
  constexpr int kReductionCost = 6;  // shuffles + adds of one horizontal sum
  return trans_a == Transpose::kNo && n * ((k + kLanes - 1) / kLanes + kReductionCost) < k;
}

// Writes op(B) = Bᵀ (B stored n x k, stride ldb) as k x n row-major into `packed` (stride
// ldp), a 16-row gather per output vector.
DESCENT_TARGET_AVX512 void PackTransposed(int n, int k, const float* b, int ldb, float* packed,
                                          int ldp) {
  const __m512i row_offsets =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(ldb));
  for (int j = 0; j < n; j += kLanes) {
    const __mmask16 mask = TailMask(n - j);
    const float* column = b + static_cast<ptrdiff_t>(j) * ldb;
    for (int p = 0; p < k; ++p) {
      const __m512 values =
          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, row_offsets, column + p, 4);
      _mm512_storeu_ps(packed + static_cast<ptrdiff_t>(p) * ldp + j, values);
    }
  }
}

// Copies the few columns of op(B) = B (k x n, stride ldb) into rows of `bt` (n x k).
void PackColumns(int n, int k, const float* b, int ldb, float* bt) {
  for (int p = 0; p < k; ++p) {
    for (int j = 0; j < n; ++j) bt[static_cast<ptrdiff_t>(j) * k + p] = b[ptrdiff_t{p} * ldb + j];
  }
}

}  // namespace

bool GemmKernelsAvailable() { return CpuHasAvx512(); }

bool PreferDirectGemm(Transpose trans_a, Transpose trans_b, int m, int n, int k) {
  return (m == 1 || n == 1) && int64_t{m} * n * k <= kMaxDirectMultiplyAdds &&
         DirectGemmFits(trans_a, trans_b, m, n, k);
}

bool DirectGemmFits(Transpose trans_a, Transpose trans_b, int /*m*/, int n, int k) {
  if (PreferDotProduct(trans_a, n, k)) {
    return trans_b == Transpose::kYes || int64_t{n} * k <= kMaxPackedB;
  }
  return trans_b == Transpose::kNo || int64_t{k} * RoundUp(n, kLanes) <= kMaxPackedB;
}

void DirectSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  DESCENT_CHECK(GemmKernelsAvailable());
  if (m == 0 || n == 0) return;
  alignas(64) float packed[kMaxPackedB];
  if (PreferDotProduct(trans_a, n, k)) {
    const float* bt = b;
    int ldbt = ldb;
    if (trans_b == Transpose::kNo) {
      DESCENT_CHECK(int64_t{n} * k <= kMaxPackedB);
      PackColumns(n, k, b, ldb, packed);
      bt = packed;
      ldbt = k;
    }
    DotProduct(m, n, k, alpha, a, lda, bt, ldbt, beta, c, ldc);
    return;
  }
  if (trans_b == Transpose::kYes) {
    const int ldp = RoundUp(n, kLanes);
    DESCENT_CHECK(int64_t{k} * ldp <= kMaxPackedB);
    DESCENT_CHECK(ldb <= std::numeric_limits<int32_t>::max() / kLanes);
    PackTransposed(n, k, b, ldb, packed, ldp);
    b = packed;
    ldb = ldp;
  }
  if (trans_a == Transpose::kNo) {
    PanelProduct<Transpose::kNo>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    PanelProduct<Transpose::kYes>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace descent::internal
