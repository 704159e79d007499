#include "engine/network.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/blas.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/reference_activation.h"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::IsOk;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

ModelSpec Model(std::vector<LayerSpec> hidden,
                Initialization init = Initialization::kPytorchDefault) {
  ModelSpec model;
  model.hidden_layers = std::move(hidden);
  model.initialization = init;
  return model;
}

Network MakeNetwork(int inputs, int outputs, const ModelSpec& model, uint64_t seed = 1) {
  absl::StatusOr<Network> network = Network::Create(inputs, outputs, model, seed);
  DESCENT_CHECK(network.ok());
  return std::move(network).value();
}

Matrix RandomMatrix(int rows, int cols, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<float> uniform(-scale, scale);
  Matrix m(rows, cols);
  for (float& v : m.span()) v = uniform(engine);
  return m;
}

// ---- A naive double-precision network: the reference for gradients and the forward pass.

struct DoubleLayer {
  int inputs = 0, outputs = 0;
  Activation activation = Activation::kIdentity;
  double slope = 0;
  std::vector<double> weight;  // [outputs, inputs]
  std::vector<double> bias;
};

std::vector<DoubleLayer> ToDouble(const Network& network) {
  std::vector<DoubleLayer> layers;
  const std::vector<LayerParameters> params = network.GetParameters();
  const std::vector<Activation> activations = network.activations();
  for (size_t i = 0; i < params.size(); ++i) {
    DoubleLayer layer;
    layer.outputs = params[i].weight.rows();
    layer.inputs = params[i].weight.cols();
    layer.activation = activations[i];
    layer.weight.assign(params[i].weight.values().begin(), params[i].weight.values().end());
    layer.bias.assign(params[i].bias.begin(), params[i].bias.end());
    layers.push_back(std::move(layer));
  }
  return layers;
}

// Logits [batch, outputs] by the textbook triple loop.
std::vector<double> NaiveForward(const std::vector<DoubleLayer>& layers, const Matrix& x) {
  const int batch = x.rows();
  std::vector<double> activations(x.values().begin(), x.values().end());
  for (const DoubleLayer& layer : layers) {
    std::vector<double> next(static_cast<size_t>(batch) * layer.outputs);
    for (int b = 0; b < batch; ++b) {
      for (int o = 0; o < layer.outputs; ++o) {
        double z = layer.bias[static_cast<size_t>(o)];
        for (int i = 0; i < layer.inputs; ++i) {
          z += activations[static_cast<size_t>(b) * layer.inputs + i] *
               layer.weight[static_cast<size_t>(o) * layer.inputs + i];
        }
        next[static_cast<size_t>(b) * layer.outputs + o] =
            ReferenceActivation(layer.activation, layer.slope, z);
      }
    }
    activations = std::move(next);
  }
  return activations;
}

// The scalar loss of the checks: L = Σ upstream ⊙ logits, so dL/dlogits = upstream.
double NaiveLoss(const std::vector<DoubleLayer>& layers, const Matrix& x, const Matrix& upstream) {
  const std::vector<double> logits = NaiveForward(layers, x);
  double loss = 0;
  for (size_t i = 0; i < logits.size(); ++i) loss += logits[i] * upstream.values()[i];
  return loss;
}

// Compares the engine's float gradients of every layer with central differences of the double
// reference. Checks every parameter of a tensor with at most `max_checked` entries, otherwise
// an even sample of that many.
void ExpectGradientsMatchFiniteDifferences(Network& network, const Matrix& x, uint64_t seed,
                                           size_t max_checked = 400) {
  const Matrix upstream = RandomMatrix(x.rows(), network.outputs(), seed);
  const Matrix& logits = network.Forward(x);
  std::vector<DoubleLayer> reference = ToDouble(network);
  for (size_t i = 0; i < reference.size(); ++i) {
    reference[i].slope = 0.07;  // every leaky ReLU of these tests uses 0.07
  }
  // The forward pass itself first.
  const std::vector<double> expected_logits = NaiveForward(reference, x);
  for (size_t i = 0; i < expected_logits.size(); ++i) {
    ASSERT_NEAR(logits.values()[i], expected_logits[i], 1e-4 * (1 + std::abs(expected_logits[i])))
        << "logit " << i;
  }
  network.Backward(x, upstream);
  const std::vector<ParameterRef> params = network.Parameters();
  ASSERT_EQ(params.size(), 2 * reference.size());
  constexpr double kStep = 1e-6;
  for (size_t p = 0; p < params.size(); ++p) {
    DoubleLayer& layer = reference[p / 2];
    std::vector<double>& values = p % 2 == 0 ? layer.weight : layer.bias;
    const size_t stride = std::max<size_t>(1, values.size() / max_checked);
    std::vector<std::pair<double, double>> pairs;  // (analytic, numeric)
    double largest = 0;
    for (size_t i = 0; i < values.size(); i += stride) {
      const double saved = values[i];
      values[i] = saved + kStep;
      const double plus = NaiveLoss(reference, x, upstream);
      values[i] = saved - kStep;
      const double minus = NaiveLoss(reference, x, upstream);
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * kStep);
      pairs.emplace_back(params[p].grad[i], numeric);
      largest = std::max(largest, std::abs(numeric));
    }
    for (size_t j = 0; j < pairs.size(); ++j) {
      const auto [analytic, numeric] = pairs[j];
      EXPECT_NEAR(analytic, numeric, 1e-3 * std::abs(numeric) + 1e-4 * largest + 1e-7)
          << "layer " << p / 2 << (p % 2 == 0 ? " weight" : " bias") << " index " << j * stride;
    }
  }
}

TEST(NetworkGradientTest, EveryHiddenActivation) {
  for (Activation activation : {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu,
                                Activation::kSigmoid, Activation::kTanh, Activation::kGelu}) {
    SCOPED_TRACE(std::string(ActivationName(activation)));
    Network network = MakeNetwork(6, 4, Model({{9, activation, 0.07f}}));
    ExpectGradientsMatchFiniteDifferences(network, RandomMatrix(5, 6, 21), 22);
  }
}

TEST(NetworkGradientTest, DeepMixedNetworkWithRaggedShapes) {
  // 70 units span two 64-column panels; batch 11 leaves remainder tiles of every kind.
  Network network = MakeNetwork(13, 3,
                                Model({{20, Activation::kTanh, 0.0f},
                                       {70, Activation::kGelu, 0.0f},
                                       {17, Activation::kLeakyRelu, 0.07f},
                                       {5, Activation::kSigmoid, 0.0f}},
                                      Initialization::kXavierNormal));
  ExpectGradientsMatchFiniteDifferences(network, RandomMatrix(11, 13, 31), 32);
}

TEST(NetworkGradientTest, TinyBenchmarkShape) {
  Network network = MakeNetwork(13, 1, Model({{64, Activation::kRelu, 0.0f}}));
  ExpectGradientsMatchFiniteDifferences(network, RandomMatrix(32, 13, 41), 42, 120);
}

TEST(NetworkGradientTest, ShapesLargeEnoughForTheBlockedKernels) {
  // 80 x 200 x 150 multiply-adds per product: above the direct kernels' limit.
  Network network = MakeNetwork(150, 120, Model({{200, Activation::kTanh, 0.0f}}));
  ExpectGradientsMatchFiniteDifferences(network, RandomMatrix(80, 150, 51), 52, 6);
}

TEST(NetworkGradientTest, SingleLinearLayer) {
  Network network = MakeNetwork(7, 5, Model({}));
  ExpectGradientsMatchFiniteDifferences(network, RandomMatrix(3, 7, 61), 62);
}

// ---- PyTorch: the same parameters and input give torch's logits and gradients.

struct LayerReference {
  std::vector<float> weight, bias, weight_grad, bias_grad;
};
struct NetworkReference {
  int inputs, outputs, batch;
  std::vector<LayerSpec> hidden;
  std::vector<LayerReference> layers;
  std::vector<float> x, upstream, logits;
};
const NetworkReference kTorchNetwork =
#include "tests/engine/reference/network_reference.inc"
    ;

TEST(NetworkTest, MatchesPytorchForwardAndBackward) {
  const NetworkReference& ref = kTorchNetwork;
  Network network = MakeNetwork(ref.inputs, ref.outputs, Model(ref.hidden));
  std::vector<LayerParameters> params = network.GetParameters();
  ASSERT_EQ(params.size(), ref.layers.size());
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].weight =
        Matrix(params[i].weight.rows(), params[i].weight.cols(), ref.layers[i].weight);
    params[i].bias = ref.layers[i].bias;
  }
  ASSERT_OK(network.SetParameters(params));
  const Matrix x(ref.batch, ref.inputs, ref.x);
  const Matrix& logits = network.Forward(x);
  for (size_t i = 0; i < ref.logits.size(); ++i) {
    EXPECT_NEAR(logits.values()[i], ref.logits[i], 1e-5) << "logit " << i;
  }
  network.Backward(x, Matrix(ref.batch, ref.outputs, ref.upstream));
  const std::vector<ParameterRef> grads = network.Parameters();
  for (size_t l = 0; l < ref.layers.size(); ++l) {
    for (size_t i = 0; i < ref.layers[l].weight_grad.size(); ++i) {
      EXPECT_NEAR(grads[2 * l].grad[i], ref.layers[l].weight_grad[i], 1e-5)
          << "layer " << l << " weight " << i;
    }
    for (size_t i = 0; i < ref.layers[l].bias_grad.size(); ++i) {
      EXPECT_NEAR(grads[2 * l + 1].grad[i], ref.layers[l].bias_grad[i], 1e-5)
          << "layer " << l << " bias " << i;
    }
  }
}

// ---- Allocation: none per step once a batch size was seen.

TEST(NetworkTest, ForwardAndBackwardDoNotAllocateOnceABatchSizeWasSeen) {
  struct Case {
    int inputs, outputs;
    ModelSpec model;
    int batch;
  };
  const Case cases[] = {
      {13, 1, Model({{64, Activation::kRelu, 0.0f}}), 32},
      {64, 10, Model({{128, Activation::kRelu, 0.0f}, {128, Activation::kGelu, 0.0f}}), 64},
      {150, 120, Model({{200, Activation::kLeakyRelu, 0.1f}}), 80},  // blocked kernels
      {300, 20, Model({{1024, Activation::kRelu}}), 300},            // OpenBLAS (or blocked) sized
  };
  for (const Case& c : cases) {
    Network network = MakeNetwork(c.inputs, c.outputs, c.model);
    const Matrix full = RandomMatrix(c.batch, c.inputs, 1);
    const Matrix last = RandomMatrix(c.batch / 2 + 1, c.inputs, 2);  // an epoch's last batch
    const Matrix full_grad = RandomMatrix(c.batch, c.outputs, 3);
    const Matrix last_grad = RandomMatrix(c.batch / 2 + 1, c.outputs, 4);
    network.Forward(full);
    network.Backward(full, full_grad);

    const int64_t before = ::descent::testing::AllocationsOnThisThread();
    for (int step = 0; step < 10; ++step) {
      const bool short_batch = step % 3 == 2;
      const Matrix& x = short_batch ? last : full;
      network.Forward(x);
      network.Backward(x, short_batch ? last_grad : full_grad);
    }
    const int64_t allocations = ::descent::testing::AllocationsOnThisThread() - before;
    EXPECT_EQ(allocations, 0) << c.inputs << " inputs, batch " << c.batch;
  }
  // The counter does count: building a network allocates.
  const int64_t before = ::descent::testing::AllocationsOnThisThread();
  Network counted = MakeNetwork(3, 2, Model({}));
  EXPECT_GT(::descent::testing::AllocationsOnThisThread() - before, 0);
}

// Jobs train on their own threads at the same time: the kernels' scratch (stack buffers,
// per-thread packing buffers) must not be shared. Two networks on two threads give exactly
// what each gives alone.
TEST(NetworkTest, ConcurrentNetworksOnTwoThreadsMatchRunningAlone) {
  const ModelSpec model = Model({{96, Activation::kRelu}, {130, Activation::kTanh}});
  auto run = [&](uint64_t seed) {
    Network network = MakeNetwork(200, 7, model, seed);
    const Matrix x = RandomMatrix(90, 200, seed + 10);
    const Matrix g = RandomMatrix(90, 7, seed + 20);
    std::vector<float> result;
    for (int step = 0; step < 5; ++step) {
      const Matrix& logits = network.Forward(x);
      result.insert(result.end(), logits.values().begin(), logits.values().end());
      network.Backward(x, g);
      for (const ParameterRef& p : network.Parameters()) {
        for (size_t i = 0; i < p.value.size(); ++i) p.value[i] -= 0.01f * p.grad[i];
      }
    }
    return result;
  };
  const std::vector<float> alone_a = run(1);
  const std::vector<float> alone_b = run(2);
  std::vector<float> together_a, together_b;
  std::thread thread_a([&] { together_a = run(1); });
  std::thread thread_b([&] { together_b = run(2); });
  thread_a.join();
  thread_b.join();
  EXPECT_EQ(together_a, alone_a);
  EXPECT_EQ(together_b, alone_b);
}

// ---- Construction, parameters and shapes.

TEST(NetworkTest, CreateRejectsEmptyLayersNamingTheField) {
  EXPECT_THAT(Network::Create(4, 2, Model({{8, Activation::kRelu}, {0, Activation::kRelu}}), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "model.hidden_layers[1].units must be >= 1 (got 0)"));
  EXPECT_THAT(Network::Create(0, 2, Model({}), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input")));
  EXPECT_THAT(Network::Create(3, 0, Model({}), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("output")));
}

// A trained network rebuilt from its parameters computes what it computed.
TEST(NetworkTest, FromParametersRebuildsTheSameFunction) {
  const ModelSpec model = Model({{6, Activation::kLeakyRelu}, {5, Activation::kGelu}});
  Network trained = MakeNetwork(4, 3, model, /*seed=*/9);
  absl::StatusOr<Network> rebuilt = Network::FromParameters(4, model, trained.GetParameters());
  ASSERT_OK(rebuilt);
  EXPECT_EQ(rebuilt->outputs(), 3);
  EXPECT_EQ(rebuilt->activations(), trained.activations());
  const Matrix x = RandomMatrix(7, 4, /*seed=*/3);
  const Matrix expected = trained.Forward(x);
  const Matrix got = rebuilt->Forward(x);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got.data()[i], expected.data()[i]) << i;

  std::vector<LayerParameters> short_of_a_layer = trained.GetParameters();
  short_of_a_layer.erase(short_of_a_layer.begin());
  EXPECT_THAT(Network::FromParameters(4, model, short_of_a_layer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_parameters.layers")));
}

// ReleaseParameters hands over what GetParameters would copy: the same shapes and values,
// in the same order, and the network's own buffers (no copy was made).
TEST(NetworkTest, ReleaseParametersMovesOutWhatGetParametersCopies) {
  Network network = MakeNetwork(5, 2, Model({{7, Activation::kRelu}}), /*seed=*/4);
  const std::vector<LayerParameters> copied = network.GetParameters();
  const float* first_weight = network.Parameters()[0].value.data();
  const std::vector<LayerParameters> released = network.ReleaseParameters();
  ASSERT_EQ(released.size(), copied.size());
  for (size_t i = 0; i < copied.size(); ++i) {
    EXPECT_EQ(released[i].weight.rows(), copied[i].weight.rows()) << "layer " << i;
    EXPECT_EQ(released[i].weight.cols(), copied[i].weight.cols()) << "layer " << i;
    EXPECT_EQ(released[i].weight.values(), copied[i].weight.values()) << "layer " << i;
    EXPECT_EQ(released[i].bias, copied[i].bias) << "layer " << i;
  }
  EXPECT_EQ(released[0].weight.data(), first_weight);
}

TEST(NetworkTest, ShapesCountsAndParameterOrder) {
  Network network = MakeNetwork(13, 3, Model({{64, Activation::kRelu}, {8, Activation::kTanh}}));
  EXPECT_EQ(network.inputs(), 13);
  EXPECT_EQ(network.outputs(), 3);
  EXPECT_EQ(network.num_layers(), 3);
  EXPECT_EQ(network.ParameterCount(), 64 * 14 + 8 * 65 + 3 * 9);
  EXPECT_EQ(ParameterCount(13, Model({{64, Activation::kRelu}, {8, Activation::kTanh}}), 3),
            network.ParameterCount());
  EXPECT_EQ(network.activations(),
            (std::vector<Activation>{Activation::kRelu, Activation::kTanh, Activation::kIdentity}));
  const std::vector<ParameterRef> params = network.Parameters();
  const std::vector<size_t> sizes = {64 * 13, 64, 8 * 64, 8, 3 * 8, 3};
  ASSERT_EQ(params.size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(params[i].value.size(), sizes[i]);
    EXPECT_EQ(params[i].grad.size(), sizes[i]);
  }
  // The spans are the network's own storage: an optimizer writing them changes the network.
  params[0].value[0] = 0.5f;
  EXPECT_EQ(network.GetParameters()[0].weight(0, 0), 0.5f);
}

TEST(NetworkTest, SameSeedSameParametersAndEarlierLayersIgnoreLaterOnes) {
  const ModelSpec model = Model({{16, Activation::kRelu}}, Initialization::kHeUniform);
  const auto a = MakeNetwork(5, 2, model, 77).GetParameters();
  const auto b = MakeNetwork(5, 2, model, 77).GetParameters();
  const auto c = MakeNetwork(5, 2, model, 78).GetParameters();
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].weight.values(), b[i].weight.values());
    EXPECT_EQ(a[i].bias, b[i].bias);
  }
  EXPECT_NE(a[0].weight.values(), c[0].weight.values());
  // Adding a layer after the first leaves the first layer's draw unchanged.
  const auto deeper =
      MakeNetwork(
          5, 2,
          Model({{16, Activation::kRelu}, {9, Activation::kRelu}}, Initialization::kHeUniform), 77)
          .GetParameters();
  EXPECT_EQ(deeper[0].weight.values(), a[0].weight.values());
}

// Create shares a large network's layers among the job's threads (BlasThreads()): the
// parameters are the same bits on one thread as on several.
TEST(NetworkTest, LargeNetworkGetsTheSameParametersOnOneThreadAsOnSeveral) {
  const ModelSpec model = Model({{512, Activation::kRelu}, {1024, Activation::kRelu}},
                                Initialization::kXavierNormal);
  const int before = BlasThreads();
  SetBlasThreads(1);
  const auto one = MakeNetwork(600, 700, model, 5).GetParameters();
  SetBlasThreads(3);
  const auto three = MakeNetwork(600, 700, model, 5).GetParameters();
  SetBlasThreads(before);
  ASSERT_GE(one[0].weight.size() + one[1].weight.size() + one[2].weight.size(), size_t{1} << 20)
      << "below the size from which Create uses several threads";
  ASSERT_EQ(one.size(), three.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].weight.values(), three[i].weight.values()) << "layer " << i;
    EXPECT_EQ(one[i].bias, three[i].bias) << "layer " << i;
  }
}

TEST(NetworkTest, SetParametersRoundTripsAndRejectsWrongShapesNamingTheField) {
  Network network = MakeNetwork(13, 1, Model({{64, Activation::kRelu}}));
  std::vector<LayerParameters> params = network.GetParameters();
  params[0].weight(3, 4) = 1.25f;
  params[1].bias[0] = -2.0f;
  ASSERT_OK(network.SetParameters(params));
  EXPECT_EQ(network.GetParameters()[0].weight(3, 4), 1.25f);
  EXPECT_EQ(network.GetParameters()[1].bias[0], -2.0f);

  const std::vector<LayerParameters> good = network.GetParameters();
  std::vector<LayerParameters> bad = good;
  bad[0].weight = Matrix(64, 12);
  EXPECT_THAT(network.SetParameters(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "initial_parameters.layers[0].weight must be 64 x 13 (got 64 x 12)"));
  bad = good;
  bad[1].bias.push_back(0.0f);
  EXPECT_THAT(network.SetParameters(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "initial_parameters.layers[1].bias must have 1 values (got 2)"));
  bad = good;
  bad.pop_back();
  EXPECT_THAT(network.SetParameters(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("initial_parameters.layers must have 2 entries")));
  bad = good;
  bad[1].weight(0, 5) = NAN;
  EXPECT_THAT(
      network.SetParameters(bad),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("initial_parameters.layers[1].weight[5] (got nan) must be finite")));
  // A rejected call changed nothing, even where its earlier layers were valid.
  bad = good;
  bad[0].weight(0, 0) = 9.0f;
  bad[1].bias = {};
  EXPECT_FALSE(network.SetParameters(bad).ok());
  EXPECT_EQ(network.GetParameters()[0].weight.values(), good[0].weight.values());
}

TEST(NetworkTest, EachRowIsIndependentOfTheBatchAroundIt) {
  Network network = MakeNetwork(9, 4, Model({{30, Activation::kGelu}, {20, Activation::kRelu}}));
  const Matrix batch = RandomMatrix(7, 9, 5);
  const Matrix logits = network.Forward(batch);  // copy: the next Forward reuses the buffer
  for (int r = 0; r < batch.rows(); ++r) {
    const Matrix row(1, 9, std::vector<float>(batch.row(r), batch.row(r) + 9));
    const Matrix& single = network.Forward(row);
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(single(0, c), logits(r, c), 1e-5);
  }
  // Back to the full batch: the buffers grow back to the old shape and give the same result.
  EXPECT_EQ(network.Forward(batch).values(), logits.values());
}

TEST(NetworkTest, BackwardOverwritesGradients) {
  Network network = MakeNetwork(4, 2, Model({{6, Activation::kTanh}}));
  const Matrix x = RandomMatrix(3, 4, 6);
  const Matrix g = RandomMatrix(3, 2, 7);
  network.Forward(x);
  network.Backward(x, g);
  const std::vector<float> first(network.Parameters()[0].grad.begin(),
                                 network.Parameters()[0].grad.end());
  network.Forward(x);
  network.Backward(x, g);
  const std::vector<float> second(network.Parameters()[0].grad.begin(),
                                  network.Parameters()[0].grad.end());
  EXPECT_EQ(first, second);
}

TEST(NetworkDeathTest, WrongShapesAreBugs) {
  Network network = MakeNetwork(4, 2, Model({{6, Activation::kRelu}}));
  EXPECT_DEATH(network.Forward(Matrix(3, 5)), "check failed");
  network.Forward(Matrix(3, 4));
  EXPECT_DEATH(network.Backward(Matrix(2, 4), Matrix(2, 2)), "check failed");
  EXPECT_DEATH(network.Backward(Matrix(3, 4), Matrix(3, 1)), "check failed");
}

}  // namespace
}  // namespace descent
