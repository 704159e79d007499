// The register tile shared by the hand-written sgemm paths (gemm_direct.cc, gemm_blocked.cc):
// C[0..MR, 0..16·NV) accumulated in MR x NV zmm registers over the whole k, one broadcast of A
// and NV vector loads of B per k step. Internal to those two files.
#ifndef DESCENT_ENGINE_GEMM_TILE_H_
#define DESCENT_ENGINE_GEMM_TILE_H_

#include <immintrin.h>

#include <cstddef>

#include "engine/blas.h"
#include "engine/cpu_features.h"

namespace descent::internal {

inline constexpr int kLanes = 16;  // floats per zmm register

DESCENT_TARGET_AVX512 inline __mmask16 TailMask(int columns) {
  return columns >= kLanes ? static_cast<__mmask16>(0xFFFF)
                           : static_cast<__mmask16>((1u << columns) - 1u);
}

// Writes alpha * acc (+ beta * C) into `columns` (<= 16) floats of C.
DESCENT_TARGET_AVX512 inline void StoreTile(__m512 acc, __mmask16 mask, float alpha, float beta,
                                            float* c) {
  __m512 result = alpha == 1.0f ? acc : _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
  if (beta != 0.0f) {
    result = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, c), result);
  }
  _mm512_mask_storeu_ps(c, mask, result);
}

// One register tile: C[0..MR, 0..columns) of op(A) · B over the whole k, where B is k x n
// row-major (stride ldb) and columns <= NV * 16. A points at the tile's first row of op(A):
// row r, column p of op(A) is a[r * lda + p] (kNo) or a[p * lda + r] (kYes).
template <Transpose kTransA, int MR, int NV>
DESCENT_TARGET_AVX512 void Tile(int k, int columns, float alpha, const float* a, int lda,
                                const float* b, int ldb, float beta, float* c, int ldc) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  const __mmask16 last = TailMask(columns - (NV - 1) * kLanes);
  for (int p = 0; p < k; ++p) {
    const float* b_row = b + static_cast<std::ptrdiff_t>(p) * ldb;
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v) bv[v] = _mm512_loadu_ps(b_row + v * kLanes);
    bv[NV - 1] = _mm512_maskz_loadu_ps(last, b_row + (NV - 1) * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const float a_rp = kTransA == Transpose::kNo ? a[static_cast<std::ptrdiff_t>(r) * lda + p]
                                                   : a[static_cast<std::ptrdiff_t>(p) * lda + r];
      const __m512 av = _mm512_set1_ps(a_rp);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    float* c_row = c + static_cast<std::ptrdiff_t>(r) * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      StoreTile(acc[r][v], v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF), alpha, beta,
                c_row + v * kLanes);
    }
  }
}

// Rows per tile: 6 x 4 vectors uses 24 accumulators of the 32 zmm registers; narrower
// panels take 8 rows so that enough independent FMAs are in flight.
template <int NV>
constexpr int TileRows() {
  return NV == 4 ? 6 : 8;
}

template <Transpose kTransA, int NV, int MR>
DESCENT_TARGET_AVX512 void TileRemainder(int rows, int k, int columns, float alpha, const float* a,
                                         int lda, const float* b, int ldb, float beta, float* c,
                                         int ldc) {
  if constexpr (MR > 0) {
    if (rows == MR) {
      Tile<kTransA, MR, NV>(k, columns, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
      TileRemainder<kTransA, NV, MR - 1>(rows, k, columns, alpha, a, lda, b, ldb, beta, c, ldc);
    }
  }
}

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_GEMM_TILE_H_
