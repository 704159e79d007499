// Parameter initialisation with PyTorch's distributions (torch.nn.init, nn.Linear defaults),
// drawn from a portable generator: std::mt19937_64 (fully specified by the standard) with the
// uniform and normal transforms written out here, because std:: distributions differ between
// standard libraries. The same seed gives bit-identical parameters on every machine.
//
//   kPytorchDefault  W ~ U(-1/√in, 1/√in) (kaiming_uniform_ with a = √5), b ~ U(-1/√in, 1/√in)
//   kXavierUniform   W ~ U(-√(6/(in+out)), √(6/(in+out))), b = 0
//   kXavierNormal    W ~ N(0, 2/(in+out)), b = 0
//   kHeUniform       W ~ U(-√(6/in), √(6/in)) (kaiming_uniform_, ReLU gain √2), b = 0
//   kHeNormal        W ~ N(0, 2/in) (kaiming_normal_, ReLU gain √2), b = 0
// Only nn.Linear's default initialises the bias randomly; the others follow the usual
// Keras/Glorot/He practice of a zero bias.
#ifndef DESCENT_ENGINE_INITIALIZATION_H_
#define DESCENT_ENGINE_INITIALIZATION_H_

#include <cstdint>
#include <vector>

#include "engine/matrix.h"
#include "engine/train_spec.h"

namespace descent {

// A parameter distribution: U(-scale, scale), N(0, scale²), or all zeros when scale == 0.
struct ParameterDistribution {
  enum class Shape { kUniform, kNormal };
  Shape shape = Shape::kUniform;
  double scale = 0.0;  // the uniform bound or the normal standard deviation
};

// The distributions of a dense layer's weight and bias for fan_in inputs and fan_out outputs
// (both >= 1; CHECK).
ParameterDistribution WeightDistribution(Initialization initialization, int fan_in, int fan_out);
ParameterDistribution BiasDistribution(Initialization initialization, int fan_in, int fan_out);

// The seed of layer `layer_index`'s generator: each layer draws from its own stream, so the
// parameters of layer i do not depend on the sizes of the other layers.
uint64_t LayerSeed(uint64_t seed, int layer_index);

// Fills *weight ([fan_out, fan_in], its current shape) and *bias (resized to fan_out) from a
// generator seeded with `seed`: the weight first, row-major, then the bias.
void InitializeDenseLayer(Initialization initialization, uint64_t seed, Matrix* weight,
                          std::vector<float>* bias);

}  // namespace descent

#endif  // DESCENT_ENGINE_INITIALIZATION_H_
