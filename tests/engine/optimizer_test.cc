#include "engine/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "engine/cpu_features.h"
#include "engine/network.h"
#include "engine/train_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/reference/optimizer_reference.inc"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/status_matchers.h"

namespace descent::reference {
// Failure messages name the case instead of dumping its bytes.
void PrintTo(const OptimizerReference& ref, std::ostream* os) { *os << ref.name; }
void PrintTo(const ClipReference& ref, std::ostream* os) { *os << ref.name; }
}  // namespace descent::reference

namespace descent {
namespace {

using ::descent::testing::IsOk;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

// Parameter tensors laid out as in a reference case (one flat vector per tensor), with the
// ParameterRef spans an optimizer sees.
class Parameters {
 public:
  Parameters(const std::vector<int>& sizes, const std::vector<float>& flat_values) {
    size_t offset = 0;
    for (int size : sizes) {
      values_.emplace_back(flat_values.begin() + offset, flat_values.begin() + offset + size);
      grads_.emplace_back(size, 0.0f);
      offset += size;
    }
    EXPECT_EQ(offset, flat_values.size());
    for (size_t i = 0; i < values_.size(); ++i) {
      refs_.push_back(ParameterRef{absl::MakeSpan(values_[i]), absl::MakeSpan(grads_[i])});
    }
  }

  void SetGrads(const std::vector<float>& flat_grads) {
    size_t offset = 0;
    for (auto& grad : grads_) {
      std::copy(flat_grads.begin() + offset, flat_grads.begin() + offset + grad.size(),
                grad.begin());
      offset += grad.size();
    }
  }

  std::vector<float> Flat() const {
    std::vector<float> out;
    for (const auto& v : values_) out.insert(out.end(), v.begin(), v.end());
    return out;
  }

  absl::Span<const ParameterRef> refs() const { return refs_; }

 private:
  std::vector<std::vector<float>> values_;
  std::vector<std::vector<float>> grads_;
  std::vector<ParameterRef> refs_;
};

// float32 updates mirror PyTorch's operation order; what remains is PyTorch's use of fused
// multiply-adds in its vectorised kernels, a few float ulps over a run.
void ExpectNearTorch(const std::vector<float>& actual, const std::vector<float>& expected,
                     const std::string& where) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-6 * std::max(1.0f, std::abs(expected[i])))
        << where << ", element " << i;
  }
}

class TorchOptimizerReferenceTest : public ::testing::TestWithParam<reference::OptimizerReference> {
};

TEST_P(TorchOptimizerReferenceTest, TrajectoryMatchesPytorch) {
  const reference::OptimizerReference& ref = GetParam();
  Parameters params(ref.sizes, ref.initial);
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(ref.spec, params.refs());
  for (size_t step = 0; step < ref.grads.size(); ++step) {
    params.SetGrads(ref.grads[step]);
    optimizer->Step(params.refs(), ref.lrs[step]);
    ExpectNearTorch(params.Flat(), ref.params[step], "step " + std::to_string(step + 1));
  }
  EXPECT_EQ(optimizer->SaveState().steps, static_cast<int64_t>(ref.grads.size()));
}

TEST_P(TorchOptimizerReferenceTest, ResumingFromSavedStateContinuesExactly) {
  const reference::OptimizerReference& ref = GetParam();
  const size_t split = ref.grads.size() / 2;

  // An uninterrupted run.
  Parameters straight(ref.sizes, ref.initial);
  auto uninterrupted = MakeOptimizer(ref.spec, straight.refs());
  for (size_t step = 0; step < ref.grads.size(); ++step) {
    straight.SetGrads(ref.grads[step]);
    uninterrupted->Step(straight.refs(), ref.lrs[step]);
  }

  // The same run, saved after `split` steps and continued by a fresh optimizer.
  Parameters first(ref.sizes, ref.initial);
  auto before = MakeOptimizer(ref.spec, first.refs());
  for (size_t step = 0; step < split; ++step) {
    first.SetGrads(ref.grads[step]);
    before->Step(first.refs(), ref.lrs[step]);
  }
  const OptimizerState saved = before->SaveState();
  EXPECT_EQ(saved.steps, static_cast<int64_t>(split));

  Parameters resumed(ref.sizes, first.Flat());
  auto after = MakeOptimizer(ref.spec, resumed.refs());
  ASSERT_THAT(after->LoadState(resumed.refs(), saved), IsOk());
  for (size_t step = split; step < ref.grads.size(); ++step) {
    resumed.SetGrads(ref.grads[step]);
    after->Step(resumed.refs(), ref.lrs[step]);
  }
  EXPECT_EQ(resumed.Flat(), straight.Flat());  // bit-identical
  const OptimizerState end_a = after->SaveState();
  const OptimizerState end_b = uninterrupted->SaveState();
  EXPECT_EQ(end_a.steps, end_b.steps);
  EXPECT_EQ(end_a.buffers, end_b.buffers);
}

INSTANTIATE_TEST_SUITE_P(Torch, TorchOptimizerReferenceTest,
                         ::testing::ValuesIn(reference::OptimizerReferences()),
                         [](const ::testing::TestParamInfo<reference::OptimizerReference>& info) {
                           return std::string(info.param.name);
                         });

// The state each optimizer keeps, per parameter tensor, in PyTorch's terms.
TEST(OptimizerStateTest, BufferLayoutFollowsTheOptions) {
  const std::vector<int> sizes = {6, 2};
  Parameters params(sizes, std::vector<float>(8, 1.0f));
  auto buffers = [&](const OptimizerSpec& spec) {
    return MakeOptimizer(spec, params.refs())->SaveState().buffers.size();
  };
  EXPECT_EQ(buffers({.kind = OptimizerKind::kSgd, .learning_rate = 0.1}), 0u);
  EXPECT_EQ(buffers({.kind = OptimizerKind::kSgd, .learning_rate = 0.1, .momentum = 0.9}), 2u);
  EXPECT_EQ(buffers({.kind = OptimizerKind::kAdam}), 4u);
  EXPECT_EQ(buffers({.kind = OptimizerKind::kAdam, .amsgrad = true}), 6u);
  EXPECT_EQ(buffers({.kind = OptimizerKind::kRmsprop}), 2u);
  EXPECT_EQ(buffers({.kind = OptimizerKind::kRmsprop, .momentum = 0.5, .centered = true}), 6u);
  EXPECT_EQ(buffers({.kind = OptimizerKind::kAdagrad}), 2u);

  const OptimizerState adagrad =
      MakeOptimizer({.kind = OptimizerKind::kAdagrad, .initial_accumulator_value = 0.25},
                    params.refs())
          ->SaveState();
  EXPECT_EQ(adagrad.steps, 0);
  EXPECT_EQ(adagrad.buffers[0], std::vector<float>(6, 0.25f));
  EXPECT_EQ(adagrad.buffers[1], std::vector<float>(2, 0.25f));
}

TEST(OptimizerStateTest, LoadStateRejectsStateThatDoesNotFitAndKeepsItsOwn) {
  const std::vector<int> sizes = {6, 2};
  Parameters params(sizes, std::vector<float>(8, 1.0f));
  params.SetGrads({0.5f, -0.5f, 1.0f, 2.0f, -3.0f, 0.25f, 1.0f, -1.0f});
  auto optimizer = MakeOptimizer({.kind = OptimizerKind::kAdam}, params.refs());
  optimizer->Step(params.refs(), 1e-3);
  const OptimizerState good = optimizer->SaveState();
  const auto kInvalid = absl::StatusCode::kInvalidArgument;

  OptimizerState missing_buffer = good;
  missing_buffer.buffers.pop_back();
  EXPECT_THAT(optimizer->LoadState(params.refs(), missing_buffer),
              StatusIs(kInvalid, HasSubstr("optimizer state has 3 buffers; this optimizer and "
                                           "model need 4")));

  OptimizerState short_buffer = good;
  short_buffer.buffers[2].resize(5);
  short_buffer.steps = 40;
  EXPECT_THAT(optimizer->LoadState(params.refs(), short_buffer),
              StatusIs(kInvalid, HasSubstr("buffer 2 has 5 values; parameter 1 needs 2")));

  OptimizerState negative_steps = good;
  negative_steps.steps = -1;
  EXPECT_THAT(optimizer->LoadState(params.refs(), negative_steps),
              StatusIs(kInvalid, HasSubstr("steps must be >= 0 (got -1)")));

  Parameters other(std::vector<int>{6, 3}, std::vector<float>(9, 1.0f));
  EXPECT_THAT(optimizer->LoadState(other.refs(), good),
              StatusIs(kInvalid, HasSubstr("parameter 1 has 3 values, the optimizer was built "
                                           "for 2")));
  Parameters fewer(std::vector<int>{6}, std::vector<float>(6, 1.0f));
  EXPECT_THAT(optimizer->LoadState(fewer.refs(), good),
              StatusIs(kInvalid, HasSubstr("optimizer state is for 2 parameter tensors, got 1")));

  // Nothing half-loaded: the state is still the one before the rejected loads.
  const OptimizerState after = optimizer->SaveState();
  EXPECT_EQ(after.steps, good.steps);
  EXPECT_EQ(after.buffers, good.buffers);
}

TEST(OptimizerTest, StepsDoNotAllocate) {
  // Every reference configuration covers every option that changes the update formula.
  for (const reference::OptimizerReference& ref : reference::OptimizerReferences()) {
    Parameters params(ref.sizes, ref.initial);
    auto optimizer = MakeOptimizer(ref.spec, params.refs());
    params.SetGrads(ref.grads[0]);
    const int64_t before = descent::testing::AllocationsOnThisThread();
    for (int step = 0; step < 3; ++step) {
      optimizer->Step(params.refs(), ref.lrs[0]);
      ClipGradientNorm(params.refs(), 0.5);
    }
    EXPECT_EQ(descent::testing::AllocationsOnThisThread(), before) << ref.name;
  }
}

// Tensors of `sizes` (filled from a fixed seed with values in [-1, 1)), `steps` gradients for
// them, and the optimizer's state after those steps, as one flat list of bit patterns.
std::vector<uint32_t> BitsAfterSteps(const OptimizerSpec& spec, const std::vector<int>& sizes,
                                     int steps) {
  std::mt19937 random(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int total = std::accumulate(sizes.begin(), sizes.end(), 0);
  std::vector<float> initial(total);
  for (float& v : initial) v = uniform(random);
  Parameters params(sizes, initial);
  auto optimizer = MakeOptimizer(spec, params.refs());
  for (int step = 0; step < steps; ++step) {
    std::vector<float> grads(total);
    for (float& g : grads) g = uniform(random);
    params.SetGrads(grads);
    optimizer->Step(params.refs(), 1e-2);
  }
  std::vector<float> values = params.Flat();
  for (const std::vector<float>& buffer : optimizer->SaveState().buffers) {
    values.insert(values.end(), buffer.begin(), buffer.end());
  }
  std::vector<uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}

TEST(OptimizerTest, Avx512UpdatesGiveTheBaselineBits) {
  // Each update loop is built for the baseline and for AVX-512 (RunVectorized); both must
  // round alike (no contracted multiply-adds), on tensors long enough for the 16-wide loops
  // and with remainders. Every reference configuration covers every update formula.
  if (!internal::CpuHasAvx512()) GTEST_SKIP() << "this CPU has no AVX-512";
  const std::vector<int> sizes = {1031, 37, 5};
  for (const reference::OptimizerReference& ref : reference::OptimizerReferences()) {
    internal::avx512_bodies_allowed = false;
    const std::vector<uint32_t> baseline = BitsAfterSteps(ref.spec, sizes, 3);
    internal::avx512_bodies_allowed = true;
    const std::vector<uint32_t> avx512 = BitsAfterSteps(ref.spec, sizes, 3);
    ASSERT_EQ(avx512.size(), baseline.size()) << ref.name;
    size_t differing = 0;
    for (size_t i = 0; i < baseline.size(); ++i) differing += avx512[i] != baseline[i] ? 1 : 0;
    EXPECT_EQ(differing, 0u) << ref.name << ": values differ in their bits";
  }
}

TEST(OptimizerTest, StepUsesTheLearningRateItIsGiven) {
  // Plain SGD: p -= lr * g, with the lr of each call (the schedule's value for that step).
  Parameters params(std::vector<int>{2}, {1.0f, -2.0f});
  params.SetGrads({0.5f, 4.0f});
  auto sgd = MakeOptimizer({.kind = OptimizerKind::kSgd, .learning_rate = 123.0}, params.refs());
  sgd->Step(params.refs(), 0.1);
  EXPECT_EQ(params.Flat(), (std::vector<float>{1.0f - 0.1f * 0.5f, -2.0f - 0.1f * 4.0f}));
  sgd->Step(params.refs(), 0.0);
  EXPECT_EQ(params.Flat(), (std::vector<float>{1.0f - 0.1f * 0.5f, -2.0f - 0.1f * 4.0f}));
}

TEST(OptimizerTest, FirstAdamStepMovesEveryWeightByTheLearningRate) {
  // With bias correction, Adam's first update is lr * g / (|g| + eps'): about lr per weight,
  // whatever the gradient's scale. This is why the seed's "learning rate" means a step size.
  Parameters params(std::vector<int>{3}, {0.0f, 0.0f, 0.0f});
  params.SetGrads({1e-4f, -3.0f, 250.0f});
  auto adam = MakeOptimizer({.kind = OptimizerKind::kAdam}, params.refs());
  adam->Step(params.refs(), 0.01);
  EXPECT_NEAR(params.Flat()[0], -0.01 * 1e-4 / (1e-4 + 1e-8), 1e-9);  // eps shows here
  EXPECT_NEAR(params.Flat()[1], 0.01f, 1e-7);
  EXPECT_NEAR(params.Flat()[2], -0.01f, 1e-7);
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping against torch.nn.utils.clip_grad_norm_.
// ---------------------------------------------------------------------------------------------

class TorchClipReferenceTest : public ::testing::TestWithParam<reference::ClipReference> {};

TEST_P(TorchClipReferenceTest, NormAndClippedGradientsMatchPytorch) {
  const reference::ClipReference& ref = GetParam();
  Parameters params(std::vector<int>{12, 3}, std::vector<float>(15, 0.0f));
  params.SetGrads(ref.grads);
  const double norm = ClipGradientNorm(params.refs(), ref.max_norm);
  EXPECT_NEAR(norm, ref.norm, 1e-6 * ref.norm);
  std::vector<float> clipped;
  for (const ParameterRef& p : params.refs()) {
    clipped.insert(clipped.end(), p.grad.begin(), p.grad.end());
  }
  if (norm <= ref.max_norm) {
    EXPECT_EQ(clipped, ref.grads);  // untouched, not rescaled by 1
  }
  ExpectNearTorch(clipped, ref.clipped, ref.name);

  double clipped_norm = 0.0;
  for (float g : clipped) clipped_norm += static_cast<double>(g) * g;
  EXPECT_LE(std::sqrt(clipped_norm), ref.max_norm * (1 + 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Torch, TorchClipReferenceTest,
                         ::testing::ValuesIn(reference::ClipReferences()),
                         [](const ::testing::TestParamInfo<reference::ClipReference>& info) {
                           return std::string(info.param.name);
                         });

TEST(ClipGradientNormTest, NonFiniteNormLeavesGradientsForTheCallerToSee) {
  Parameters params(std::vector<int>{3}, {0.0f, 0.0f, 0.0f});
  params.SetGrads({1.0f, std::numeric_limits<float>::infinity(), 2.0f});
  EXPECT_TRUE(std::isinf(ClipGradientNorm(params.refs(), 1.0)));
  EXPECT_EQ(params.refs()[0].grad[0], 1.0f);
  EXPECT_EQ(params.refs()[0].grad[2], 2.0f);
}

}  // namespace
}  // namespace descent
