// The matrix products against a naive double-precision triple loop, over every transpose
// combination and every route: libxsmm's JIT kernels (transpose flags, transposed copies,
// single rows and columns), the direct kernels (tiny tiles with ragged edges, few-column
// products in dot-product form, repacked transposed operands), the blocked kernels (several
// blocks in each of m, n and k) and OpenBLAS.
#include "engine/blas.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/gemm_kernels.h"
#include "gtest/gtest.h"

namespace descent {
namespace {

struct Operands {
  std::vector<float> a, b, c;
  int lda, ldb, ldc;
};

std::vector<float> RandomValues(size_t n, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(n);
  // Exactly representable small values keep the float reference error tiny.
  for (float& v : values) v = static_cast<float>(static_cast<int>(engine() % 17) - 8) / 8.0f;
  return values;
}

// Storage with row strides larger than the logical width (padding), so stride handling is
// exercised too.
Operands MakeOperands(Transpose ta, Transpose tb, int m, int n, int k, int pad, uint64_t seed) {
  Operands op;
  const int a_rows = ta == Transpose::kNo ? m : k;
  const int a_cols = ta == Transpose::kNo ? k : m;
  const int b_rows = tb == Transpose::kNo ? k : n;
  const int b_cols = tb == Transpose::kNo ? n : k;
  op.lda = std::max(1, a_cols) + pad;
  op.ldb = std::max(1, b_cols) + pad;
  op.ldc = std::max(1, n) + pad;
  op.a = RandomValues(static_cast<size_t>(a_rows) * op.lda + 1, seed);
  op.b = RandomValues(static_cast<size_t>(b_rows) * op.ldb + 1, seed + 1);
  op.c = RandomValues(static_cast<size_t>(m) * op.ldc + 1, seed + 2);
  return op;
}

// C = alpha op(A) op(B) + beta C in double, the reference.
std::vector<double> NaiveGemm(Transpose ta, Transpose tb, int m, int n, int k, double alpha,
                              const Operands& op, double beta) {
  std::vector<double> c(op.c.begin(), op.c.end());
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        const double a = ta == Transpose::kNo ? op.a[static_cast<size_t>(i) * op.lda + p]
                                              : op.a[static_cast<size_t>(p) * op.lda + i];
        const double b = tb == Transpose::kNo ? op.b[static_cast<size_t>(p) * op.ldb + j]
                                              : op.b[static_cast<size_t>(j) * op.ldb + p];
        sum += a * b;
      }
      double& out = c[static_cast<size_t>(i) * op.ldc + j];
      out = alpha * sum + (beta == 0.0 ? 0.0 : beta * out);
    }
  }
  return c;
}

using GemmFunction = void (*)(Transpose, Transpose, int, int, int, float, const float*, int,
                              const float*, int, float, float*, int);

// Runs `gemm` and compares every element of C (including the padding, which must be left
// alone) with the reference.
void ExpectMatchesNaive(GemmFunction gemm, Transpose ta, Transpose tb, int m, int n, int k,
                        float alpha, float beta, int pad) {
  const std::string label =
      absl::StrCat("ta=", ta == Transpose::kYes, " tb=", tb == Transpose::kYes, " m=", m, " n=", n,
                   " k=", k, " alpha=", alpha, " beta=", beta, " pad=", pad);
  Operands op = MakeOperands(ta, tb, m, n, k, pad, static_cast<uint64_t>(m * 131 + n * 7 + k));
  const std::vector<double> expected = NaiveGemm(ta, tb, m, n, k, alpha, op, beta);
  gemm(ta, tb, m, n, k, alpha, op.a.data(), op.lda, op.b.data(), op.ldb, beta, op.c.data(), op.ldc);
  for (size_t i = 0; i < expected.size(); ++i) {
    const double tolerance = 1e-5 * (1.0 + std::abs(expected[i])) * (1 + k / 64);
    ASSERT_NEAR(op.c[i], expected[i], tolerance) << label << " at flat index " << i;
  }
}

struct Shape {
  int m, n, k;
};

// Shapes of the benchmark networks' layers plus ragged edges around the 16-lane vectors and
// the 6/8-row tiles.
const Shape kShapes[] = {
    {1, 1, 1},    {1, 17, 3},    {7, 1, 64},    {32, 64, 13}, {32, 1, 64},   {32, 64, 1},
    {1, 64, 32},  {64, 13, 32},  {13, 64, 32},  {9, 33, 5},   {6, 64, 8},    {8, 48, 8},
    {17, 79, 31}, {64, 128, 64}, {64, 10, 128}, {3, 5, 200},  {25, 130, 17}, {2, 2, 0},
};

const Transpose kBoth[] = {Transpose::kNo, Transpose::kYes};

TEST(SgemmTest, MatchesNaiveForEveryTransposeAndShape) {
  for (const Shape& s : kShapes) {
    for (Transpose ta : kBoth) {
      for (Transpose tb : kBoth) {
        ExpectMatchesNaive(&Sgemm, ta, tb, s.m, s.n, s.k, 1.0f, 0.0f, 0);
        ExpectMatchesNaive(&Sgemm, ta, tb, s.m, s.n, s.k, -0.5f, 0.75f, 3);
      }
    }
  }
}

TEST(SgemmTest, BlasPathMatchesNaive) {
  for (const Shape& s : kShapes) {
    for (Transpose ta : kBoth) {
      for (Transpose tb : kBoth) {
        ExpectMatchesNaive(&BlasSgemm, ta, tb, s.m, s.n, s.k, 1.0f, 0.0f, 0);
        ExpectMatchesNaive(&BlasSgemm, ta, tb, s.m, s.n, s.k, 2.0f, -1.0f, 1);
      }
    }
  }
}

TEST(SgemmTest, DirectKernelsMatchNaive) {
  if (!internal::GemmKernelsAvailable()) GTEST_SKIP() << "CPU without AVX-512F";
  for (const Shape& s : kShapes) {
    for (Transpose ta : kBoth) {
      for (Transpose tb : kBoth) {
        ExpectMatchesNaive(&internal::DirectSgemm, ta, tb, s.m, s.n, s.k, 1.0f, 0.0f, 0);
        ExpectMatchesNaive(&internal::DirectSgemm, ta, tb, s.m, s.n, s.k, 1.5f, 1.0f, 2);
      }
    }
  }
}

TEST(SgemmTest, BlockedKernelsMatchNaive) {
  if (!internal::GemmKernelsAvailable()) GTEST_SKIP() << "CPU without AVX-512F";
  for (const Shape& s : kShapes) {
    for (Transpose ta : kBoth) {
      for (Transpose tb : kBoth) {
        ExpectMatchesNaive(&internal::BlockedSgemm, ta, tb, s.m, s.n, s.k, 1.0f, 0.0f, 0);
        ExpectMatchesNaive(&internal::BlockedSgemm, ta, tb, s.m, s.n, s.k, -2.0f, 0.5f, 1);
      }
    }
  }
  // More than one block in each dimension (192 rows, 512 columns, 384 deep), with ragged
  // last blocks, tiles and 16x16 transposes.
  for (Transpose ta : kBoth) {
    for (Transpose tb : kBoth) {
      ExpectMatchesNaive(&internal::BlockedSgemm, ta, tb, 197, 531, 401, 1.0f, 0.0f, 0);
    }
  }
  ExpectMatchesNaive(&internal::BlockedSgemm, Transpose::kYes, Transpose::kYes, 50, 70, 800, 0.5f,
                     2.0f, 5);
}

// libxsmm takes alpha 1 and beta 0 or 1 (what the network's products use); every other
// product must be refused with C untouched, and Sgemm then takes another route.
void LibxsmmOrCheckFail(Transpose ta, Transpose tb, int m, int n, int k, float alpha,
                        const float* a, int lda, const float* b, int ldb, float beta, float* c,
                        int ldc) {
  ASSERT_TRUE(internal::LibxsmmSgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

TEST(SgemmTest, LibxsmmKernelsMatchNaive) {
  for (const Shape& s : kShapes) {
    if (s.k == 0) continue;  // refused: Sgemm's other routes zero C
    for (Transpose ta : kBoth) {
      for (Transpose tb : kBoth) {
        ExpectMatchesNaive(&LibxsmmOrCheckFail, ta, tb, s.m, s.n, s.k, 1.0f, 0.0f, 0);
        ExpectMatchesNaive(&LibxsmmOrCheckFail, ta, tb, s.m, s.n, s.k, 1.0f, 1.0f, 2);
      }
    }
  }
  std::vector<float> c = {7};
  const std::vector<float> one = {1};
  EXPECT_FALSE(internal::LibxsmmSgemm(Transpose::kNo, Transpose::kNo, 1, 1, 1, 2.0f, one.data(), 1,
                                      one.data(), 1, 0.0f, c.data(), 1));
  EXPECT_FALSE(internal::LibxsmmSgemm(Transpose::kNo, Transpose::kNo, 1, 1, 1, 1.0f, one.data(), 1,
                                      one.data(), 1, 0.5f, c.data(), 1));
  EXPECT_EQ(c, std::vector<float>{7});
}

TEST(SgemmTest, EveryRouteMatchesNaive) {
  // libxsmm for small products, the engine's or OpenBLAS's for larger ones (which depends on
  // the kernels OpenBLAS runs), and alpha/beta libxsmm does not take.
  for (Transpose ta : kBoth) {
    for (Transpose tb : kBoth) {
      ExpectMatchesNaive(&Sgemm, ta, tb, 96, 160, 192, 1.0f, 0.0f, 0);
      ExpectMatchesNaive(&Sgemm, ta, tb, 130, 300, 260, 1.0f, 1.0f, 1);
      ExpectMatchesNaive(&Sgemm, ta, tb, 32, 64, 13, -0.5f, 0.25f, 0);
    }
  }
  EXPECT_TRUE(internal::PreferLibxsmm(Transpose::kNo, Transpose::kYes, 32, 64, 13));
  EXPECT_FALSE(internal::PreferLibxsmm(Transpose::kNo, Transpose::kYes, 128, 256, 256));
  EXPECT_FALSE(internal::PreferLibxsmm(Transpose::kNo, Transpose::kYes, 32, 1, 64));
  EXPECT_TRUE(internal::PreferLibxsmm(Transpose::kYes, Transpose::kNo, 256, 784, 128));
  EXPECT_FALSE(internal::PreferDirectGemm(Transpose::kNo, Transpose::kYes, 96, 160, 192));
  EXPECT_FALSE(internal::PreferDirectGemm(Transpose::kNo, Transpose::kYes, 32, 64, 13));
  EXPECT_TRUE(internal::PreferDirectGemm(Transpose::kYes, Transpose::kNo, 1, 64, 32));
}

TEST(SgemmTest, BetaZeroOverwritesNanInOutput) {
  std::vector<GemmFunction> routes = {&Sgemm, &BlasSgemm, &LibxsmmOrCheckFail};
  if (internal::GemmKernelsAvailable()) {
    routes.push_back(&internal::DirectSgemm);
    routes.push_back(&internal::BlockedSgemm);
  }
  for (GemmFunction gemm : routes) {
    const std::vector<float> a = {1, 2, 3, 4};  // 2 x 2
    const std::vector<float> b = {5, 6, 7, 8};  // 2 x 2
    std::vector<float> c(4, std::nanf(""));
    gemm(Transpose::kNo, Transpose::kNo, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(),
         2);
    EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
  }
}

TEST(MatMulTest, UsesMatrixShapes) {
  const Matrix x(2, 3, {1, 2, 3, 4, 5, 6});
  const Matrix w(4, 3, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  Matrix y(2, 4);
  MatMul(Transpose::kNo, x, Transpose::kYes, w, 1.0f, 0.0f, &y);  // x · wᵀ
  EXPECT_EQ(y.values(), (std::vector<float>{1, 2, 3, 6, 4, 5, 6, 15}));
  Matrix g(3, 3);
  MatMul(Transpose::kYes, x, Transpose::kNo, x, 1.0f, 0.0f, &g);  // xᵀ · x
  EXPECT_EQ(g.values(), (std::vector<float>{17, 22, 27, 22, 29, 36, 27, 36, 45}));
}

TEST(MatMulDeathTest, MismatchedShapesAreABug) {
  const Matrix x(2, 3);
  const Matrix w(4, 2);
  Matrix y(2, 4);
  EXPECT_DEATH(MatMul(Transpose::kNo, x, Transpose::kYes, w, 1.0f, 0.0f, &y), "check failed");
}

TEST(BlasThreadsTest, SetAndReadBack) {
  const int before = BlasThreads();
  SetBlasThreads(1);
  EXPECT_EQ(BlasThreads(), 1);
  if (std::thread::hardware_concurrency() >= 2) {
    SetBlasThreads(2);
    EXPECT_EQ(BlasThreads(), 2);
  }
  SetBlasThreads(before);
  EXPECT_EQ(BlasThreads(), before);
  EXPECT_FALSE(BlasConfig().empty());
  // Either OpenBLAS runs AVX-512 kernels on an AVX-512 CPU, or the warning says what to do.
  const std::string warning = BlasKernelWarning();
  if (!warning.empty()) {
    EXPECT_NE(warning.find("OPENBLAS_CORETYPE"), std::string::npos);
  }
}

TEST(BlasKernelWarningTest, NamesAnEnvironmentForcedCoreType) {
  const std::string warning = BlasKernelWarningFor("Haswell", "Haswell", true);
  EXPECT_NE(warning.find("OPENBLAS_CORETYPE=Haswell in the environment"), std::string::npos)
      << warning;
  EXPECT_NE(warning.find("unset OPENBLAS_CORETYPE"), std::string::npos) << warning;
}

TEST(BlasKernelWarningTest, NamesACpuModelOpenBlasDoesNotKnow) {
  const std::string warning = BlasKernelWarningFor("Prescott", "", true);
  EXPECT_NE(warning.find("does not recognise this CPU model"), std::string::npos) << warning;
  EXPECT_NE(warning.find("Prescott"), std::string::npos) << warning;
  EXPECT_NE(warning.find("OPENBLAS_CORETYPE=SkylakeX"), std::string::npos) << warning;
}

TEST(BlasKernelWarningTest, SilentOnAvx512KernelsOrWithoutAvx512) {
  EXPECT_EQ(BlasKernelWarningFor("Cooperlake", "", true), "");
  EXPECT_EQ(BlasKernelWarningFor("SkylakeX", "SkylakeX", true), "");
  EXPECT_EQ(BlasKernelWarningFor("Haswell", "Haswell", false), "");
  EXPECT_EQ(BlasKernelWarningFor("Zen", "", false), "");
}

}  // namespace
}  // namespace descent
