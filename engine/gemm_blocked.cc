// The blocked path of gemm_kernels.h. Loop nest (Goto / BLIS order):
//   for each kBlockK rows of op(B) (pc):
//     for each kBlockN columns (jc): pack op(B)[pc.., jc..] into 64-column micro-panels
//       for each kBlockM rows of C (ic): [pack a transposed op(A) block]
//         for each micro-panel (jr): for each 6-row tile (ir): Tile<6, 4> over kBlockK
// A micro-panel (kBlockK x 64 floats) is reused by every tile of an ic block; the rows of
// op(A) a tile reads (6 x kBlockK) stream from L2. An op(A) that is A as stored is read in
// place (each of a tile's 6 rows is one unit-stride stream); a transposed A is first packed
// into 6-row panels (see PackTransposedA).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "base/status_macros.h"
#include "engine/gemm_kernels.h"
#include "engine/gemm_tile.h"

namespace descent::internal {
namespace {

constexpr int kPanelColumns = 64;  // 4 vectors: the tile's width
constexpr int kTileRows = 6;       // 6 x 4 accumulators + 4 B vectors + 1 broadcast
// Block sizes, tuned on the benchmark nets' shapes (Emerald Rapids, 48 KB L1D, 2 MB L2): a
// 384-deep op(B) block keeps the tile's fixed costs (clearing, storing C) small, 512 columns
// of it (768 KB packed) stay in L2, and 192 rows of C reuse each micro-panel 32 times.
constexpr int kBlockK = 384;
constexpr int kBlockN = 512;
constexpr int kBlockM = 192;

// A per-thread buffer that grows to the largest request and is then reused: after the first
// product of a shape, packing allocates nothing.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data_); }

  float* Get(size_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      capacity_ = (floats + kLanes - 1) / kLanes * kLanes;
      data_ = static_cast<float*>(std::aligned_alloc(64, capacity_ * sizeof(float)));
      DESCENT_CHECK(data_ != nullptr);
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

// Full-mask forms: the unmasked intrinsics trip GCC 12's -Wmaybe-uninitialized in its headers.
constexpr __mmask16 kAll = 0xFFFF;

// 64-bit interleaves of two vectors seen as 8 doubles.
DESCENT_TARGET_AVX512 inline __m512 Low64(__m512 x, __m512 y) {
  return _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, _mm512_castps_pd(x), _mm512_castps_pd(y)));
}
DESCENT_TARGET_AVX512 inline __m512 High64(__m512 x, __m512 y) {
  return _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, _mm512_castps_pd(x), _mm512_castps_pd(y)));
}

// Transposes the 16 x 16 block held in r[0..15] (row i in r[i]) in place: afterwards r[j]
// holds column j. Three rounds of unpacks and lane shuffles (the usual 16 x 16 network).
DESCENT_TARGET_AVX512 inline void Transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_ps(kAll, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = Low64(t[i], t[i + 2]);
    r[i + 1] = High64(t[i], t[i + 2]);
    r[i + 2] = Low64(t[i + 1], t[i + 3]);
    r[i + 3] = High64(t[i + 1], t[i + 3]);
  }
  // Now r[4g + q] holds element q (+4, +8, +12 per 128-bit lane) of rows 4g..4g+3.
  for (int q = 0; q < 4; ++q) {
    t[q] = _mm512_maskz_shuffle_f32x4(kAll, r[q], r[4 + q], 0x88);
    t[4 + q] = _mm512_maskz_shuffle_f32x4(kAll, r[q], r[4 + q], 0xdd);
    t[8 + q] = _mm512_maskz_shuffle_f32x4(kAll, r[8 + q], r[12 + q], 0x88);
    t[12 + q] = _mm512_maskz_shuffle_f32x4(kAll, r[8 + q], r[12 + q], 0xdd);
  }
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm512_maskz_shuffle_f32x4(kAll, t[q], t[8 + q], 0x88);
    r[4 + q] = _mm512_maskz_shuffle_f32x4(kAll, t[4 + q], t[12 + q], 0x88);
    r[8 + q] = _mm512_maskz_shuffle_f32x4(kAll, t[q], t[8 + q], 0xdd);
    r[12 + q] = _mm512_maskz_shuffle_f32x4(kAll, t[4 + q], t[12 + q], 0xdd);
  }
}

// Packs op(B)[0..kc, 0..nc) into micro-panels: packed[(panel * kc + p) * 64 + c] =
// op(B)(p, panel * 64 + c), zero beyond nc. b points at op(B)(0, 0) of the block.
DESCENT_TARGET_AVX512 void PackB(Transpose trans_b, int kc, int nc, const float* b, int ldb,
                                 float* packed) {
  for (int j0 = 0; j0 < nc; j0 += kPanelColumns) {
    float* panel = packed + static_cast<ptrdiff_t>(j0) * kc;  // (j0 / 64) * kc * 64
    if (trans_b == Transpose::kNo) {
      for (int p = 0; p < kc; ++p) {
        const float* src = b + static_cast<ptrdiff_t>(p) * ldb + j0;
        float* dst = panel + static_cast<ptrdiff_t>(p) * kPanelColumns;
        for (int c = 0; c < kPanelColumns; c += kLanes) {
          const int valid = nc - j0 - c;
          const __mmask16 mask = valid <= 0 ? 0 : TailMask(valid);
          _mm512_storeu_ps(dst + c, _mm512_maskz_loadu_ps(mask, src + c));
        }
      }
      continue;
    }
    // op(B)(p, j) = b[j * ldb + p]: 16 x 16 transposes of B's stored rows.
    for (int c = 0; c < kPanelColumns; c += kLanes) {
      const int rows = std::clamp(nc - j0 - c, 0, kLanes);  // stored rows of B = columns here
      for (int p0 = 0; p0 < kc; p0 += kLanes) {
        const int depth = std::min(kLanes, kc - p0);
        const __mmask16 mask = TailMask(depth);
        __m512 r[16];
        for (int i = 0; i < kLanes; ++i) {
          r[i] = i < rows ? _mm512_maskz_loadu_ps(mask,
                                                  b + static_cast<ptrdiff_t>(j0 + c + i) * ldb + p0)
                          : _mm512_setzero_ps();
        }
        Transpose16x16(r);
        for (int q = 0; q < depth; ++q) {
          _mm512_storeu_ps(panel + static_cast<ptrdiff_t>(p0 + q) * kPanelColumns + c, r[q]);
        }
      }
    }
  }
}

// Packs op(A)[0..mc, 0..kc) for a transposed A (op(A)(i, p) = a[p * lda + i]) into 6-row
// micro-panels: packed[(i / 6) * kc * 6 + p * 6 + i % 6], zero beyond mc. Read in place, a
// tile would touch one row of A per k step, kc rows lda apart; when lda is a multiple of 1024
// floats they all fall into one L1 set and evict each other.
DESCENT_TARGET_AVX512 void PackTransposedA(int mc, int kc, const float* a, int lda, float* packed) {
  for (int i0 = 0; i0 < mc; i0 += kTileRows) {
    const __mmask16 mask = TailMask(std::min(kTileRows, mc - i0));
    float* panel = packed + static_cast<ptrdiff_t>(i0) * kc;
    for (int p = 0; p < kc; ++p) {
      const __m512 values = _mm512_maskz_loadu_ps(mask, a + static_cast<ptrdiff_t>(p) * lda + i0);
      _mm512_mask_storeu_ps(panel + static_cast<ptrdiff_t>(p) * kTileRows, TailMask(kTileRows),
                            values);
    }
  }
}

// The tiles of one column panel `columns` wide (kVectors vectors of kLanes cover it): full
// kTileRows-row tiles down C, then the rows left over.
template <Transpose kTransA, int kVectors>
DESCENT_TARGET_AVX512 void MultiplyPanel(int mc, int kc, int columns, float alpha, const float* a,
                                         int lda, ptrdiff_t row_step, const float* panel,
                                         float beta, float* c_panel, int ldc) {
  int i = 0;
  for (; i + kTileRows <= mc; i += kTileRows) {
    Tile<kTransA, kTileRows, kVectors>(kc, columns, alpha, a + i * row_step, lda, panel,
                                       kPanelColumns, beta,
                                       c_panel + static_cast<ptrdiff_t>(i) * ldc, ldc);
  }
  TileRemainder<kTransA, kVectors, kTileRows - 1>(mc - i, kc, columns, alpha, a + i * row_step,
                                                  lda, panel, kPanelColumns, beta,
                                                  c_panel + static_cast<ptrdiff_t>(i) * ldc, ldc);
}

// Every tile of C[0..mc, 0..nc) for one packed block of op(B) (kc deep). Row i of op(A)
// starts at a + i * row_step and is read as Tile reads it (row_step is lda for A as stored,
// 1 for a transposed A in place, kc for PackTransposedA's panels with lda 6).
template <Transpose kTransA>
DESCENT_TARGET_AVX512 void MultiplyBlock(int mc, int nc, int kc, float alpha, const float* a,
                                         int lda, ptrdiff_t row_step, const float* packed,
                                         float beta, float* c, int ldc) {
  for (int j0 = 0; j0 < nc; j0 += kPanelColumns) {
    const int columns = std::min(kPanelColumns, nc - j0);
    const float* panel = packed + static_cast<ptrdiff_t>(j0) * kc;
    float* c_panel = c + j0;
    switch ((columns + kLanes - 1) / kLanes) {
      case 4:
        MultiplyPanel<kTransA, 4>(mc, kc, columns, alpha, a, lda, row_step, panel, beta, c_panel,
                                  ldc);
        break;
      case 3:
        MultiplyPanel<kTransA, 3>(mc, kc, columns, alpha, a, lda, row_step, panel, beta, c_panel,
                                  ldc);
        break;
      case 2:
        MultiplyPanel<kTransA, 2>(mc, kc, columns, alpha, a, lda, row_step, panel, beta, c_panel,
                                  ldc);
        break;
      default:
        MultiplyPanel<kTransA, 1>(mc, kc, columns, alpha, a, lda, row_step, panel, beta, c_panel,
                                  ldc);
        break;
    }
  }
}

thread_local PackBuffer packed_b;
thread_local PackBuffer packed_a;

}  // namespace

void BlockedSgemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                  const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  DESCENT_CHECK(GemmKernelsAvailable());
  if (m == 0 || n == 0) return;
  float* packed =
      packed_b.Get(static_cast<size_t>(kBlockK) *
                   ((std::min(n, kBlockN) + kPanelColumns - 1) / kPanelColumns) * kPanelColumns);
  float* a_panels =
      trans_a == Transpose::kYes
          ? packed_a.Get(static_cast<size_t>(kBlockK) *
                         ((std::min(m, kBlockM) + kTileRows - 1) / kTileRows) * kTileRows)
          : nullptr;
  // k == 0 still makes one pass: the tiles then write alpha * 0 + beta * C.
  for (int pc = 0; pc < std::max(k, 1); pc += kBlockK) {
    const int kc = std::min(kBlockK, k - pc);
    // Later k blocks add to what the first wrote.
    const float block_beta = pc == 0 ? beta : 1.0f;
    for (int jc = 0; jc < n; jc += kBlockN) {
      const int nc = std::min(kBlockN, n - jc);
      const float* b_block = trans_b == Transpose::kNo ? b + static_cast<ptrdiff_t>(pc) * ldb + jc
                                                       : b + static_cast<ptrdiff_t>(jc) * ldb + pc;
      if (kc > 0) PackB(trans_b, kc, nc, b_block, ldb, packed);
      for (int ic = 0; ic < m; ic += kBlockM) {
        const int mc = std::min(kBlockM, m - ic);
        const float* a_block = trans_a == Transpose::kNo
                                   ? a + static_cast<ptrdiff_t>(ic) * lda + pc
                                   : a + static_cast<ptrdiff_t>(pc) * lda + ic;
        float* c_block = c + static_cast<ptrdiff_t>(ic) * ldc + jc;
        if (trans_a == Transpose::kNo) {
          MultiplyBlock<Transpose::kNo>(mc, nc, kc, alpha, a_block, lda, lda, packed, block_beta,
                                        c_block, ldc);
        } else {
          PackTransposedA(mc, kc, a_block, lda, a_panels);
          MultiplyBlock<Transpose::kYes>(mc, nc, kc, alpha, a_panels, kTileRows, kc, packed,
                                         block_beta, c_block, ldc);
        }
      }
    }
  }
}

}  // namespace descent::internal
