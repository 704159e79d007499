// The engine's description of a training run: model, loss, optimizer, schedule and loop
// options. Every default is PyTorch's (torch.nn / torch.optim 1.13). The service converts
// its JobSpec message into this struct; Validate() is the single place numeric options are
// checked, and its messages use the JobSpec field paths (e.g. "optimizer.adam.learning_rate")
// so a user sees the name they wrote.
#ifndef DESCENT_ENGINE_TRAIN_SPEC_H_
#define DESCENT_ENGINE_TRAIN_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/activation.h"

namespace descent {

enum class Initialization {
  kPytorchDefault,  // nn.Linear: kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(in), 1/sqrt(in)) for b
  kXavierUniform,
  kXavierNormal,
  kHeUniform,  // kaiming_uniform_(nonlinearity='relu'), bias zero
  kHeNormal,   // kaiming_normal_(nonlinearity='relu'), bias zero
};

struct LayerSpec {
  int units = 0;
  Activation activation = Activation::kRelu;
  float negative_slope = 0.01f;  // leaky ReLU only (nn.LeakyReLU default)
};

struct ModelSpec {
  std::vector<LayerSpec> hidden_layers = {};  // the output layer follows from the loss and targets
  Initialization initialization = Initialization::kPytorchDefault;
};

enum class LossKind { kMeanSquaredError, kBinaryCrossEntropy, kCategoricalCrossEntropy };

struct LossSpec {
  LossKind kind = LossKind::kMeanSquaredError;
  std::vector<float> pos_weight = {};     // BCE: one per output, empty = 1 (BCEWithLogitsLoss)
  std::vector<float> class_weights = {};  // CE: one per class, empty = 1 (CrossEntropyLoss weight)
  float label_smoothing = 0.0f;           // CE: in [0, 1)
};

enum class OptimizerKind { kSgd, kAdam, kRmsprop, kAdagrad };

// One struct for all optimizers; each reads only its own fields. Defaults are torch.optim's,
// except learning_rate, which SGD requires explicitly in PyTorch: unset there is an error.
struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::kAdam;
  // unset: Adam 1e-3, RMSprop 1e-2, Adagrad 1e-2, SGD error
  std::optional<double> learning_rate = std::nullopt;
  double weight_decay = 0.0;
  // SGD
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  // Adam / AdamW
  double beta1 = 0.9;
  double beta2 = 0.999;
  std::optional<double> epsilon = std::nullopt;  // unset: Adam 1e-8, RMSprop 1e-8, Adagrad 1e-10
  bool amsgrad = false;
  bool decoupled_weight_decay = false;  // AdamW
  // RMSprop (momentum above is shared with SGD)
  double alpha = 0.99;
  bool centered = false;
  // Adagrad
  double lr_decay = 0.0;
  double initial_accumulator_value = 0.0;

  double EffectiveLearningRate() const;  // the default when unset (CHECK: not SGD)
  double EffectiveEpsilon() const;
};

enum class ScheduleKind { kConstant, kStep, kExponential, kCosine };

// The schedule advances once per optimizer step (reproduce in PyTorch by calling
// scheduler.step() after every optimizer.step()). Linear warm-up composes with any kind:
// during the first warmup_steps the rate ramps linearly from warmup_start_factor * lr to lr
// (torch.optim.lr_scheduler.LinearLR), then the chosen schedule runs from step 0.
struct ScheduleSpec {
  ScheduleKind kind = ScheduleKind::kConstant;
  int64_t step_size = 1;     // kStep: decay every step_size steps (StepLR)
  double gamma = 0.1;        // kStep, kExponential: multiplicative factor
  int64_t t_max = 0;         // kCosine: half-period in steps; 0 = the whole run
  double eta_min = 0.0;      // kCosine: floor
  int64_t warmup_steps = 0;  // 0 = no warm-up
  double warmup_start_factor = 1.0 / 3.0;  // LinearLR default start_factor
};

struct EarlyStoppingSpec {
  int patience = 0;        // epochs without improvement before stopping; 0 = off
  double min_delta = 0.0;  // improvement smaller than this does not count
};

struct TrainingOptions {
  int epochs = 10;
  int batch_size = 32;  // 0 = full batch
  bool shuffle = true;
  uint64_t seed = 0;
  double validation_fraction = 0.0;  // held-out tail after the seeded permutation, in [0, 1)
  double clip_grad_norm = 0.0;       // max global L2 norm of the gradient; 0 = off
  EarlyStoppingSpec early_stopping;
  bool stop_on_divergence = true;  // stop as soon as the diagnosis says "diverged"
};

struct TrainSpec {
  ModelSpec model;
  LossSpec loss;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  TrainingOptions training;
};

// INVALID_ARGUMENT naming the field path and the fix when any option is out of range,
// e.g. "optimizer.adam.learning_rate must be > 0 (got -0.1)".
absl::Status Validate(const TrainSpec& spec);

// The JobSpec oneof name of an optimizer ("sgd", "adam", "rmsprop", "adagrad").
const char* OptimizerFieldName(OptimizerKind kind);

}  // namespace descent

#endif  // DESCENT_ENGINE_TRAIN_SPEC_H_
