#include "engine/initialization.h"

#include <cmath>

#include "base/portable_random.h"
#include "base/status_macros.h"

namespace descent {
namespace {

// Separates the initialisation streams from other uses of the same user seed.
constexpr uint64_t kInitializationStream = 0x696e69745f6e6574ULL;  // "init_net"

// Draws parameters from base::PortableRandom. Unlike PortableRandom::Normal(), uses both
// values of each polar-method pair: a layer's parameters are drawn in one fixed order, so the
// spare cannot depend on anything else.
class Sampler {
 public:
  explicit Sampler(uint64_t seed) : random_(seed) {}

  double Uniform() { return random_.Uniform(); }

  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const auto [first, second] = random_.NormalPair();
    spare_ = second;
    has_spare_ = true;
    return first;
  }

  float Draw(const ParameterDistribution& distribution) {
    if (distribution.scale == 0.0) return 0.0f;
    if (distribution.shape == ParameterDistribution::Shape::kNormal) {
      return static_cast<float>(distribution.scale * Normal());
    }
    // U(-scale, scale), clamped so float rounding never reaches the open upper bound.
    const float value = static_cast<float>(distribution.scale * (2.0 * Uniform() - 1.0));
    const float bound = static_cast<float>(distribution.scale);
    return value < bound ? value : std::nextafter(bound, 0.0f);
  }

 private:
  base::PortableRandom random_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace

ParameterDistribution WeightDistribution(Initialization initialization, int fan_in, int fan_out) {
  DESCENT_CHECK(fan_in >= 1 && fan_out >= 1);
  using Shape = ParameterDistribution::Shape;
  const double in = fan_in;
  const double in_out = static_cast<double>(fan_in) + fan_out;
  switch (initialization) {
    case Initialization::kPytorchDefault:
      // kaiming_uniform_(a=√5): gain √(2 / (1 + a²)) = √(1/3), bound √3 · gain / √in.
      return {Shape::kUniform, 1.0 / std::sqrt(in)};
    case Initialization::kXavierUniform:
      return {Shape::kUniform, std::sqrt(6.0 / in_out)};
    case Initialization::kXavierNormal:
      return {Shape::kNormal, std::sqrt(2.0 / in_out)};
    case Initialization::kHeUniform:
      return {Shape::kUniform, std::sqrt(6.0 / in)};
    case Initialization::kHeNormal:
      return {Shape::kNormal, std::sqrt(2.0 / in)};
  }
  DESCENT_CHECK(false);
  return {};
}

ParameterDistribution BiasDistribution(Initialization initialization, int fan_in, int fan_out) {
  DESCENT_CHECK(fan_in >= 1 && fan_out >= 1);
  if (initialization == Initialization::kPytorchDefault) {
    return {ParameterDistribution::Shape::kUniform, 1.0 / std::sqrt(static_cast<double>(fan_in))};
  }
  return {ParameterDistribution::Shape::kUniform, 0.0};
}

uint64_t LayerSeed(uint64_t seed, int layer_index) {
  return base::SplitMix64(base::SplitMix64(seed ^ kInitializationStream) +
                          static_cast<uint64_t>(layer_index));
}

void InitializeDenseLayer(Initialization initialization, uint64_t seed, Matrix* weight,
                          std::vector<float>* bias) {
  const int fan_out = weight->rows();
  const int fan_in = weight->cols();
  const ParameterDistribution weight_distribution =
      WeightDistribution(initialization, fan_in, fan_out);
  const ParameterDistribution bias_distribution = BiasDistribution(initialization, fan_in, fan_out);
  Sampler sampler(seed);
  for (float& w : weight->span()) w = sampler.Draw(weight_distribution);
  bias->resize(static_cast<size_t>(fan_out));
  for (float& b : *bias) b = sampler.Draw(bias_distribution);
}

}  // namespace descent
