#include "engine/initialization.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace descent {
namespace {

using Shape = ParameterDistribution::Shape;

TEST(InitializationTest, DistributionsFollowTorchNnInit) {
  const int in = 50, out = 30;
  struct Case {
    Initialization init;
    Shape shape;
    double weight_scale;
    double bias_scale;
  };
  const Case cases[] = {
      // nn.Linear: kaiming_uniform_(a=√5) gives bound = √3 · √(2/6) / √in = 1/√in.
      {Initialization::kPytorchDefault, Shape::kUniform, 1 / std::sqrt(50.0), 1 / std::sqrt(50.0)},
      {Initialization::kXavierUniform, Shape::kUniform, std::sqrt(6.0 / 80), 0},
      {Initialization::kXavierNormal, Shape::kNormal, std::sqrt(2.0 / 80), 0},
      {Initialization::kHeUniform, Shape::kUniform, std::sqrt(6.0 / 50), 0},
      {Initialization::kHeNormal, Shape::kNormal, std::sqrt(2.0 / 50), 0},
  };
  for (const Case& c : cases) {
    const ParameterDistribution w = WeightDistribution(c.init, in, out);
    EXPECT_EQ(w.shape, c.shape);
    EXPECT_DOUBLE_EQ(w.scale, c.weight_scale);
    EXPECT_DOUBLE_EQ(BiasDistribution(c.init, in, out).scale, c.bias_scale);
  }
}

struct Moments {
  double mean = 0, variance = 0, min = INFINITY, max = -INFINITY, within_one_sd = 0;
};

Moments Measure(const std::vector<float>& values, double sd) {
  Moments m;
  for (float v : values) {
    m.mean += v;
    m.min = std::min<double>(m.min, v);
    m.max = std::max<double>(m.max, v);
    if (std::abs(v) < sd) m.within_one_sd += 1;
  }
  m.mean /= static_cast<double>(values.size());
  for (float v : values) m.variance += (v - m.mean) * (v - m.mean);
  m.variance /= static_cast<double>(values.size() - 1);
  m.within_one_sd /= static_cast<double>(values.size());
  return m;
}

// 120,000 draws per case: the sample mean's standard error is sd/346, the variance's about
// 0.4% (uniform) to 0.41% (normal) of the variance, so the bounds below are > 5 standard errors.
TEST(InitializationTest, SamplesHaveTheDistributionsMoments) {
  const int in = 400, out = 300;
  for (Initialization init :
       {Initialization::kPytorchDefault, Initialization::kXavierUniform,
        Initialization::kXavierNormal, Initialization::kHeUniform, Initialization::kHeNormal}) {
    Matrix weight(out, in);
    std::vector<float> bias;
    InitializeDenseLayer(init, 1234, &weight, &bias);
    const ParameterDistribution d = WeightDistribution(init, in, out);
    const double sd = d.shape == Shape::kUniform ? d.scale / std::sqrt(3.0) : d.scale;
    const Moments m = Measure(weight.values(), sd);
    EXPECT_NEAR(m.mean, 0.0, 5 * sd / std::sqrt(in * out)) << static_cast<int>(init);
    EXPECT_NEAR(m.variance / (sd * sd), 1.0, 0.025) << static_cast<int>(init);
    if (d.shape == Shape::kUniform) {
      EXPECT_GE(m.min, -d.scale);
      EXPECT_LT(m.max, d.scale);
      EXPECT_LT(m.min, -0.999 * d.scale);  // the whole interval is covered
      EXPECT_GT(m.max, 0.999 * d.scale);
      EXPECT_NEAR(m.within_one_sd, 1 / std::sqrt(3.0), 0.01);
    } else {
      EXPECT_NEAR(m.within_one_sd, 0.6827, 0.01);  // Φ(1) - Φ(-1)
      EXPECT_GT(m.max, 3.5 * sd);                  // tails are really normal
      EXPECT_LT(m.min, -3.5 * sd);
    }
    ASSERT_EQ(bias.size(), static_cast<size_t>(out));
    const double bias_bound = BiasDistribution(init, in, out).scale;
    for (float b : bias) {
      EXPECT_GE(b, -bias_bound);
      EXPECT_LE(b, bias_bound);
    }
    if (init == Initialization::kPytorchDefault) {
      EXPECT_NE(bias[0], bias[1]);
    } else {
      EXPECT_EQ(bias, std::vector<float>(static_cast<size_t>(out), 0.0f));
    }
  }
}

TEST(InitializationTest, SameSeedGivesIdenticalBitsOtherSeedsDiffer) {
  auto draw = [](Initialization init, uint64_t seed) {
    Matrix weight(20, 10);
    std::vector<float> bias;
    InitializeDenseLayer(init, seed, &weight, &bias);
    std::vector<float> all = weight.values();
    all.insert(all.end(), bias.begin(), bias.end());
    return all;
  };
  for (Initialization init : {Initialization::kPytorchDefault, Initialization::kHeNormal}) {
    EXPECT_EQ(draw(init, 9), draw(init, 9));
    EXPECT_NE(draw(init, 9), draw(init, 10));
  }
  EXPECT_NE(LayerSeed(1, 0), LayerSeed(1, 1));
  EXPECT_NE(LayerSeed(1, 0), LayerSeed(2, 0));
}

// The generator is std::mt19937_64 (its output is fixed by the standard) with the transforms
// written out in initialization.cc, so these values are the same with any standard library.
// A change here changes every trained model for a given seed: do it deliberately.
TEST(InitializationTest, StreamIsPinned) {
  Matrix weight(2, 2);
  std::vector<float> bias;
  InitializeDenseLayer(Initialization::kHeUniform, 42, &weight, &bias);
  std::mt19937_64 engine(42);
  const double bound = std::sqrt(6.0 / 2);
  for (float w : weight.values()) {
    const double u = static_cast<double>(engine() >> 11) * 0x1.0p-53;
    EXPECT_EQ(w, static_cast<float>(bound * (2 * u - 1)));
  }
}

}  // namespace
}  // namespace descent
