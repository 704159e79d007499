#include "engine/denormals.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace descent {
namespace {

// volatile keeps the compiler from folding the products at compile time.
float Product(float a, float b) {
  volatile float x = a;
  volatile float y = b;
  return x * y;
}

#if defined(__x86_64__) || defined(__i386__)
TEST(ScopedFlushDenormalsTest, FlushesWhileAliveAndRestoresAfter) {
  const float smallest_normal = std::numeric_limits<float>::min();  // 1.18e-38
  // Without the scope a tiny product is a denormal.
  EXPECT_EQ(std::fpclassify(Product(smallest_normal, 0.5f)), FP_SUBNORMAL);
  {
    ScopedFlushDenormals flush;
    EXPECT_EQ(Product(smallest_normal, 0.5f), 0.0f);  // FTZ: a denormal result becomes 0
    const float denormal = std::numeric_limits<float>::denorm_min();
    EXPECT_EQ(Product(denormal, 4.0f), 0.0f);  // DAZ: a denormal input reads as 0
    EXPECT_EQ(Product(smallest_normal, 2.0f), 2.0f * smallest_normal);  // normals unchanged
  }
  EXPECT_EQ(std::fpclassify(Product(smallest_normal, 0.5f)), FP_SUBNORMAL);
}
#endif

}  // namespace
}  // namespace descent
