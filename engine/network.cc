#include "engine/network.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/blas.h"
#include "engine/dense_kernels.h"
#include "engine/descend.h"
#include "engine/field_error.h"
#include "engine/initialization.h"
#include "engine/work_sharing.h"

namespace descent {

// One dense layer and the buffers of its last Forward/Backward. The buffers are resized to
// the batch on every call; Matrix::Resize keeps its capacity, so after the largest batch was
// seen once no call allocates.
struct Network::Layer {
  int inputs = 0;
  int outputs = 0;
  Activation activation = Activation::kIdentity;
  float negative_slope = 0.0f;

  Matrix weight;  // [outputs, inputs]
  std::vector<float> bias;
  Matrix weight_grad;
  std::vector<float> bias_grad;

  Matrix pre;     // [batch, outputs] pre-activation; kept only when the derivative needs it
  Matrix output;  // [batch, outputs] f(X·Wᵀ + b)
  // [batch, outputs] dLoss/d(output), written by the next layer's Backward, then turned into
  // dLoss/d(pre-activation) in place. Unused by the output layer (it reads grad_logits).
  Matrix delta;

  bool keeps_pre() const { return ActivationBackwardNeedsInput(activation); }

  // Size the parameters (AllocateParameters) and their gradients (AllocateGradients), all
  // zero. The first touch of a large network's buffers is much of its set-up (page faults):
  // Create makes it on the threads that then draw the values.
  void AllocateParameters() {
    weight = Matrix(outputs, inputs);
    bias.assign(static_cast<size_t>(outputs), 0.0f);
  }
  void AllocateGradients() {
    weight_grad = Matrix(outputs, inputs);
    bias_grad.assign(static_cast<size_t>(outputs), 0.0f);
  }
};

Network::Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;
Network::~Network() = default;

absl::StatusOr<Network> Network::Shaped(int inputs, int outputs, const ModelSpec& model) {
  if (inputs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the network needs >= 1 input feature (got ", inputs, ")"));
  }
  if (outputs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the network needs >= 1 output unit (got ", outputs, ")"));
  }
  for (size_t i = 0; i < model.hidden_layers.size(); ++i) {
    const int units = model.hidden_layers[i].units;
    if (units < 1) {
      return InvalidFieldError(absl::StrCat("model.hidden_layers[", i, "].units"),
                               absl::StrCat(" must be >= 1 (got ", units, ")"));
    }
  }
  Network network;
  const int count = static_cast<int>(model.hidden_layers.size()) + 1;
  network.layers_.resize(static_cast<size_t>(count));
  int fan_in = inputs;
  for (int i = 0; i < count; ++i) {
    Layer& layer = network.layers_[static_cast<size_t>(i)];
    const bool hidden = i + 1 < count;
    layer.inputs = fan_in;
    layer.outputs = hidden ? model.hidden_layers[static_cast<size_t>(i)].units : outputs;
    if (hidden) {
      layer.activation = model.hidden_layers[static_cast<size_t>(i)].activation;
      layer.negative_slope = model.hidden_layers[static_cast<size_t>(i)].negative_slope;
    }
    fan_in = layer.outputs;
  }
  return network;
}

namespace {

// From this many parameters (a few ms of set-up) Create shares its layers among threads.
constexpr int64_t kParallelSetUpParameters = int64_t{1} << 20;

int64_t DenseLayerParameters(int64_t inputs, int64_t outputs) { return outputs * (inputs + 1); }

}  // namespace

absl::StatusOr<Network> Network::Create(int inputs, int outputs, const ModelSpec& model,
                                        uint64_t seed) {
  ASSIGN_OR_RETURN(Network network, Shaped(inputs, outputs, model));
  // Each layer draws from its own generator (LayerSeed), so the layers can be allocated and
  // drawn on different threads with the same bits. A large network uses the job's threads
  // (BlasThreads(), which descentd sets from the cores it gives the job): its set-up ran on
  // one core while the job's other one idled. The work items are each layer's parameters
  // (allocated, then drawn: about 4 units per value) and each layer's gradients (allocated:
  // 1 unit), so that on the large benchmark network (2M + 4M + 2M weights) two threads get
  // equal shares. A small network is done in less time than starting a thread takes.
  const int count = static_cast<int>(network.layers_.size());
  std::vector<int64_t> costs;
  for (const Layer& layer : network.layers_) {
    costs.push_back(4 * DenseLayerParameters(layer.inputs, layer.outputs));
  }
  for (const Layer& layer : network.layers_) {
    costs.push_back(DenseLayerParameters(layer.inputs, layer.outputs));
  }
  const int threads =
      network.ParameterCount() >= kParallelSetUpParameters ? BlasThreads() : 1;
  internal::ShareOutWork(costs, threads, [&](int item) {
    Layer& layer = network.layers_[static_cast<size_t>(item % count)];
    if (item >= count) {
      layer.AllocateGradients();
      return;
    }
    layer.AllocateParameters();
    InitializeDenseLayer(model.initialization, LayerSeed(seed, item), &layer.weight, &layer.bias);
  });
  return network;
}

absl::StatusOr<Network> Network::FromParameters(int inputs, const ModelSpec& model,
                                                const std::vector<LayerParameters>& parameters) {
  const int outputs = parameters.empty() ? 0 : parameters.back().weight.rows();
  ASSIGN_OR_RETURN(Network network, Shaped(inputs, outputs, model));
  for (Layer& layer : network.layers_) {
    layer.AllocateParameters();
    layer.AllocateGradients();
  }
  RETURN_IF_ERROR(network.SetParameters(parameters));
  return network;
}

namespace {

// The first non-finite value of `values`, as "[r, c] (got nan)", or empty.
std::string FirstNonFinite(const float* values, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const float v = values[static_cast<size_t>(r) * cols + c];
      if (!std::isfinite(v)) {
        return rows == 1 ? absl::StrCat("[", c, "] (got ", v, ")")
                         : absl::StrCat("[", r, ", ", c, "] (got ", v, ")");
      }
    }
  }
  return "";
}

}  // namespace

absl::Status Network::SetParameters(const std::vector<LayerParameters>& layers) {
  if (layers.size() != layers_.size()) {
    return InvalidFieldError(
        "initial_parameters.layers",
        absl::StrCat(" must have ", layers_.size(),
                     " entries, one per dense layer including the output layer (got ",
                     layers.size(), ")"));
  }
  // Check everything before changing anything: a rejected call leaves the network as it was.
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers_[i];
    const LayerParameters& given = layers[i];
    const std::string path = absl::StrCat("initial_parameters.layers[", i, "]");
    if (given.weight.rows() != layer.outputs || given.weight.cols() != layer.inputs) {
      return InvalidFieldError(
          absl::StrCat(path, ".weight"),
          absl::StrCat(" must be ", layer.outputs, " x ", layer.inputs, " (got ",
                       given.weight.rows(), " x ", given.weight.cols(), ")"));
    }
    if (given.bias.size() != static_cast<size_t>(layer.outputs)) {
      return InvalidFieldError(
          absl::StrCat(path, ".bias"),
          absl::StrCat(" must have ", layer.outputs, " values (got ", given.bias.size(), ")"));
    }
    if (std::string bad = FirstNonFinite(given.weight.data(), layer.outputs, layer.inputs);
        !bad.empty()) {
      return InvalidFieldError(absl::StrCat(path, ".weight"), absl::StrCat(bad, " must be finite"));
    }
    if (std::string bad = FirstNonFinite(given.bias.data(), 1, layer.outputs); !bad.empty()) {
      return InvalidFieldError(absl::StrCat(path, ".bias"), absl::StrCat(bad, " must be finite"));
    }
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    std::copy(layers[i].weight.values().begin(), layers[i].weight.values().end(),
              layers_[i].weight.data());
    std::copy(layers[i].bias.begin(), layers[i].bias.end(), layers_[i].bias.begin());
  }
  return absl::OkStatus();
}

std::vector<LayerParameters> Network::GetParameters() const {
  std::vector<LayerParameters> parameters;
  parameters.reserve(layers_.size());
  for (const Layer& layer : layers_) parameters.push_back({layer.weight, layer.bias});
  return parameters;
}

std::vector<LayerParameters> Network::ReleaseParameters() {
  std::vector<LayerParameters> parameters;
  parameters.reserve(layers_.size());
  for (Layer& layer : layers_) {
    parameters.push_back({std::move(layer.weight), std::move(layer.bias)});
  }
  return parameters;
}

const Matrix& Network::Forward(const Matrix& x) {
  DESCENT_CHECK(x.cols() == inputs());
  const int batch = x.rows();
  const Matrix* input = &x;
  for (Layer& layer : layers_) {
    layer.output.Resize(batch, layer.outputs);
    // Y = X · Wᵀ: W is stored [out, in], so the product reads it transposed.
    MatMul(Transpose::kNo, *input, Transpose::kYes, layer.weight, 1.0f, 0.0f, &layer.output);
    Matrix* pre = nullptr;
    if (layer.keeps_pre()) {
      layer.pre.Resize(batch, layer.outputs);
      pre = &layer.pre;
    }
    internal::BiasActivationForward(layer.activation, layer.negative_slope, layer.bias,
                                    &layer.output, pre);
    input = &layer.output;
  }
  return layers_.back().output;
}

void Network::Backward(const Matrix& x, const Matrix& grad_logits) {
  BackwardPass(x, grad_logits, nullptr);
}

void Network::BackwardAndDescend(const Matrix& x, const Matrix& grad_logits,
                                 double learning_rate) {
  // Rounded as the SGD optimizer rounds it.
  const float neg_lr = static_cast<float>(-learning_rate);
  BackwardPass(x, grad_logits, &neg_lr);
}

void Network::BackwardPass(const Matrix& x, const Matrix& grad_logits, const float* neg_lr) {
  const int batch = x.rows();
  DESCENT_CHECK(x.cols() == inputs());
  // Backward must follow a Forward of this same batch.
  DESCENT_CHECK(layers_.front().output.rows() == batch);
  DESCENT_CHECK(grad_logits.rows() == batch && grad_logits.cols() == outputs());
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& layer = layers_[i];
    const bool is_output = i + 1 == layers_.size();
    // dZ = dLoss/d(pre-activation); the output layer is linear, so it is grad_logits itself.
    const Matrix* dz = &grad_logits;
    if (is_output) {
      internal::ColumnSums(grad_logits, absl::MakeSpan(layer.bias_grad));
    } else {
      internal::ActivationBackwardAndBiasGrad(
          layer.activation, layer.negative_slope, layer.keeps_pre() ? &layer.pre : nullptr,
          layer.output, &layer.delta, absl::MakeSpan(layer.bias_grad));
      dz = &layer.delta;
    }
    // dX = dZ · W  ([batch, out] · [out, in]); the network's input needs no gradient. First,
    // because a descent step below changes W.
    if (i > 0) {
      Matrix& input_grad = layers_[i - 1].delta;
      input_grad.Resize(batch, layer.inputs);
      MatMul(Transpose::kNo, *dz, Transpose::kNo, layer.weight, 1.0f, 0.0f, &input_grad);
    }
    const Matrix& input = i == 0 ? x : layers_[i - 1].output;
    // dW = dZᵀ · X  ([out, batch] · [batch, in]); descending, W += -lr · dW in the product
    // itself where that costs the product nothing.
    if (neg_lr != nullptr && SgemmFoldsScaledAccumulation(Transpose::kYes, Transpose::kNo,
                                                          layer.outputs, layer.inputs, batch)) {
      MatMul(Transpose::kYes, *dz, Transpose::kNo, input, *neg_lr, 1.0f, &layer.weight);
    } else {
      MatMul(Transpose::kYes, *dz, Transpose::kNo, input, 1.0f, 0.0f, &layer.weight_grad);
      if (neg_lr != nullptr) {
        internal::Descend(*neg_lr, layer.weight_grad.span(), layer.weight.span());
      }
    }
    if (neg_lr != nullptr) {
      internal::Descend(*neg_lr, layer.bias_grad, absl::MakeSpan(layer.bias));
    }
  }
}

std::vector<ParameterRef> Network::Parameters() {
  std::vector<ParameterRef> refs;
  refs.reserve(2 * layers_.size());
  for (Layer& layer : layers_) {
    refs.push_back({layer.weight.span(), layer.weight_grad.span()});
    refs.push_back({absl::MakeSpan(layer.bias), absl::MakeSpan(layer.bias_grad)});
  }
  return refs;
}

int Network::inputs() const { return layers_.front().inputs; }
int Network::outputs() const { return layers_.back().outputs; }

int64_t Network::ParameterCount() const {
  int64_t count = 0;
  for (const Layer& layer : layers_) count += DenseLayerParameters(layer.inputs, layer.outputs);
  return count;
}

int64_t ParameterCount(int inputs, const ModelSpec& model, int outputs) {
  int64_t count = 0;
  int64_t fan_in = inputs;
  for (const LayerSpec& layer : model.hidden_layers) {
    count += DenseLayerParameters(fan_in, layer.units);
    fan_in = layer.units;
  }
  return count + DenseLayerParameters(fan_in, outputs);
}

int Network::num_layers() const { return static_cast<int>(layers_.size()); }

std::vector<Activation> Network::activations() const {
  std::vector<Activation> result;
  result.reserve(layers_.size());
  for (const Layer& layer : layers_) result.push_back(layer.activation);
  return result;
}

}  // namespace descent
