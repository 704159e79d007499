// A stack of dense layers, Y = X·Wᵀ + b with W stored [out, in] (nn.Linear's layout, so
// parameters map 1:1 to a torch state_dict). The last layer is linear: it produces logits,
// and the loss owns the output activation (identity, sigmoid or softmax).
#ifndef DESCENT_ENGINE_NETWORK_H_
#define DESCENT_ENGINE_NETWORK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/activation.h"
#include "engine/matrix.h"
#include "engine/train_spec.h"

namespace descent {

// Trained or initial parameters of one layer: weight [out, in], bias [out].
struct LayerParameters {
  Matrix weight;
  std::vector<float> bias;
};

// A parameter tensor and its gradient, as an optimizer sees them (same length).
struct ParameterRef {
  absl::Span<float> value;
  absl::Span<float> grad;  // mutable only so gradient clipping can scale it in place
};

class Network {
 public:
  // A network with `inputs` features, the given hidden layers and a linear output layer of
  // `outputs` units, initialised from `seed` (same seed: bit-identical parameters).
  // INVALID_ARGUMENT if a size is < 1 ("model.hidden_layers[1].units must be >= 1 (got 0)").
  static absl::StatusOr<Network> Create(int inputs, int outputs, const ModelSpec& model,
                                        uint64_t seed);
  // A network with trained `parameters` (one per layer, the output layer last), shaped by
  // `inputs` and `model`'s hidden layers: nothing is initialised only to be overwritten.
  // INVALID_ARGUMENT as Create and SetParameters (a shape that does not fit the model).
  static absl::StatusOr<Network> FromParameters(int inputs, const ModelSpec& model,
                                                const std::vector<LayerParameters>& parameters);

  // Replaces all parameters; INVALID_ARGUMENT naming the layer when a shape does not match
  // ("initial_parameters.layers[0].weight must be 64 x 13 (got 64 x 12)").
  absl::Status SetParameters(const std::vector<LayerParameters>& layers);
  std::vector<LayerParameters> GetParameters() const;
  // The parameters as GetParameters returns them, moved out instead of copied: a large
  // network's are tens of megabytes, and a copy writes them to pages that must first be
  // faulted in and zeroed (~37 ms for 8.4M parameters, on one thread). The network keeps its
  // shape but no parameters: destroy it (or assign another) afterwards, call nothing else.
  std::vector<LayerParameters> ReleaseParameters();

  // Runs x [batch, inputs] through every layer and returns the logits [batch, outputs].
  // The reference stays valid until the next call. Allocation-free once a batch size was seen.
  const Matrix& Forward(const Matrix& x);

  // Given dLoss/dLogits for the last Forward input, computes every parameter's gradient
  // (overwriting, not accumulating). Allocation-free once a batch size was seen.
  void Backward(const Matrix& x, const Matrix& grad_logits);

  // Backward and one step of plain gradient descent in one: every weight and bias becomes
  // p − learning_rate · dLoss/dp, the same update as the SGD optimizer without momentum or
  // weight decay (Optimizer::IsPlainDescent). Where the matrix product route allows it
  // (SgemmFoldsScaledAccumulation: the large products, on OpenBLAS or the blocked kernels),
  // a weight's update is folded into the product that computes its gradient, accumulated
  // into the weights (beta 1, alpha −lr), which saves the gradient's store and a pass over
  // weights and gradient that costs as much as ~5% of a large network's step. The weight
  // gradients are then not stored: Parameters()' gradients are unspecified after this call.
  // Elsewhere the gradient is computed and the update applied as the optimizer would, to the
  // same bits. Folded, a weight gets one fused multiply-add per block of the batch in which
  // the product sums (one block for batches up to a few hundred rows), so it can differ
  // from the separate update in the last bit. Allocation-free once a batch size was seen.
  void BackwardAndDescend(const Matrix& x, const Matrix& grad_logits, double learning_rate);

  // Parameters and gradients in a fixed order: layer 0 weight, layer 0 bias, layer 1 weight...
  std::vector<ParameterRef> Parameters();

  int inputs() const;
  int outputs() const;
  int64_t ParameterCount() const;  // ParameterCount(inputs(), model, outputs()) below
  int num_layers() const;
  // Activation of each layer, hidden layers then the identity output layer.
  std::vector<Activation> activations() const;

  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  ~Network();

 private:
  struct Layer;
  Network();
  // Layers of the right shapes, their parameters and gradients not allocated yet
  // (Layer::AllocateParameters, AllocateGradients); the checks of Create.
  static absl::StatusOr<Network> Shaped(int inputs, int outputs, const ModelSpec& model);
  // Backward; with `neg_lr`, BackwardAndDescend with learning rate -*neg_lr.
  void BackwardPass(const Matrix& x, const Matrix& grad_logits, const float* neg_lr);
  std::vector<Layer> layers_;
};

// Weights and biases of the network Create(inputs, outputs, model, ...) would build, without
// building it (to refuse a model too large before allocating it).
int64_t ParameterCount(int inputs, const ModelSpec& model, int outputs);

}  // namespace descent

#endif  // DESCENT_ENGINE_NETWORK_H_
