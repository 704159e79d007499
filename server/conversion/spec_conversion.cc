#include "server/conversion/spec_conversion.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/dataset.h"
#include "engine/loss.h"
#include "engine/network.h"
#include "engine/status_macros.h"
#include "engine/trainer.h"
#include "server/datasets/dataset_store.h"
#include "server/conversion/predict_columns.h"
#include "server/datasets/standardization.h"
#include "server/datasets/table_dataset.h"

namespace descent::server {
namespace {

using ::absl::InvalidArgumentError;
using ::absl::StrCat;
using ::absl::StrFormat;

constexpr double kAdamWDefaultWeightDecay = 0.01;  // torch.optim.AdamW
constexpr char kLossChoices[] =
    "MEAN_SQUARED_ERROR (numbers), BINARY_CROSS_ENTROPY (two classes) or "
    "CATEGORICAL_CROSS_ENTROPY (three or more classes)";
constexpr char kHiddenActivationChoices[] = "IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH or GELU";

// Engine messages start with the JobSpec field path ("optimizer.adam.learning_rate must be
// > 0"); the client wrote that path under "spec.". A message without a path gets `context`
// (the field being converted) in front instead. A spec the engine rejects is always a bad
// request, whatever code the engine chose (NOT_FOUND for an unknown builtin, say); codes
// that mean something else (INTERNAL, ...) pass through.
absl::Status AsSpecError(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      break;
    default:
      return status;
  }
  static constexpr absl::string_view kSpecFields[] = {
      "name",     "dataset",           "model", "loss", "loss_options", "optimizer", "schedule",
      "training", "initial_parameters"};
  const absl::string_view message = status.message();
  for (absl::string_view field : kSpecFields) {
    if (absl::StartsWith(message, field) && message.size() > field.size() &&
        absl::string_view(".[ :").find(message[field.size()]) != absl::string_view::npos) {
      return InvalidArgumentError(StrCat("spec.", message));
    }
  }
  return InvalidArgumentError(StrCat(context, ": ", message));
}

absl::string_view LossName(v1::Loss loss) { return v1::Loss_Name(loss); }

// A wire matrix as an engine matrix: at least 1 x 1 and rows * cols values. Values are not
// checked here: datasets go through the engine's ValidateDataset, the rest through
// CheckFinite.
absl::StatusOr<Matrix> ToMatrix(const v1::Matrix& matrix, absl::string_view path) {
  if (matrix.rows() < 1) {
    return InvalidArgumentError(StrCat(path, ".rows must be >= 1 (got ", matrix.rows(), ")"));
  }
  if (matrix.cols() < 1) {
    return InvalidArgumentError(StrCat(path, ".cols must be >= 1 (got ", matrix.cols(), ")"));
  }
  const int64_t expected = static_cast<int64_t>(matrix.rows()) * matrix.cols();
  if (matrix.values_size() != expected) {
    return InvalidArgumentError(
        StrFormat("%s.values must hold rows x cols = %d x %d = %d numbers, row by row (got %d)",
                  path, matrix.rows(), matrix.cols(), expected, matrix.values_size()));
  }
  return Matrix(matrix.rows(), matrix.cols(),
                std::vector<float>(matrix.values().begin(), matrix.values().end()));
}

// `path` names the repeated field, e.g. "inputs.values".
absl::Status CheckFinite(const google::protobuf::RepeatedField<float>& values,
                         absl::string_view path) {
  for (int i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values.Get(i))) {
      return InvalidArgumentError(
          StrFormat("%s[%d] must be a finite number (got %f)", path, i, values.Get(i)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Activation> ToHiddenActivation(v1::Activation activation, absl::string_view path) {
  switch (activation) {
    case v1::ACTIVATION_UNSPECIFIED:
    case v1::RELU:
      return Activation::kRelu;
    case v1::IDENTITY:
      return Activation::kIdentity;
    case v1::LEAKY_RELU:
      return Activation::kLeakyRelu;
    case v1::SIGMOID:
      return Activation::kSigmoid;
    case v1::TANH:
      return Activation::kTanh;
    case v1::GELU:
      return Activation::kGelu;
    case v1::SOFTMAX:
      return InvalidArgumentError(StrCat(
          path,
          " must not be SOFTMAX: softmax belongs to the output layer, which is added for you "
          "with loss CATEGORICAL_CROSS_ENTROPY; use ",
          kHiddenActivationChoices));
    default:
      return InvalidArgumentError(StrCat(path, " has unknown value ", static_cast<int>(activation),
                                         "; use ", kHiddenActivationChoices));
  }
}

v1::Activation ToProtoActivation(Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return v1::IDENTITY;
    case Activation::kRelu:
      return v1::RELU;
    case Activation::kLeakyRelu:
      return v1::LEAKY_RELU;
    case Activation::kSigmoid:
      return v1::SIGMOID;
    case Activation::kTanh:
      return v1::TANH;
    case Activation::kGelu:
      return v1::GELU;
  }
  DESCENT_CHECK(false && "unhandled Activation");
  return v1::ACTIVATION_UNSPECIFIED;
}

// What the loss applies to the logits, as the export describes the output layer.
v1::Activation ToProtoOutputActivation(LossKind kind) {
  switch (kind) {
    case LossKind::kMeanSquaredError:
      return v1::IDENTITY;
    case LossKind::kBinaryCrossEntropy:
      return v1::SIGMOID;
    case LossKind::kCategoricalCrossEntropy:
      return v1::SOFTMAX;
  }
  DESCENT_CHECK(false && "unhandled LossKind");
  return v1::ACTIVATION_UNSPECIFIED;
}

v1::Loss ToProtoLoss(LossKind kind) {
  switch (kind) {
    case LossKind::kMeanSquaredError:
      return v1::MEAN_SQUARED_ERROR;
    case LossKind::kBinaryCrossEntropy:
      return v1::BINARY_CROSS_ENTROPY;
    case LossKind::kCategoricalCrossEntropy:
      return v1::CATEGORICAL_CROSS_ENTROPY;
  }
  DESCENT_CHECK(false && "unhandled LossKind");
  return v1::LOSS_UNSPECIFIED;
}

absl::StatusOr<ModelSpec> ToModelSpec(const v1::ModelSpec& model) {
  ModelSpec result;
  if (model.hidden_layers_size() > kMaxHiddenLayers) {
    return InvalidArgumentError(StrCat("spec.model.hidden_layers has ", model.hidden_layers_size(),
                                       " layers; at most ", kMaxHiddenLayers, " are allowed"));
  }
  for (int i = 0; i < model.hidden_layers_size(); ++i) {
    const v1::Layer& layer = model.hidden_layers(i);
    const std::string path = StrCat("spec.model.hidden_layers[", i, "]");
    // The engine checks the lower bound; this is the service's limit.
    if (layer.units() > kMaxLayerUnits) {
      return InvalidArgumentError(
          StrCat(path, ".units must be <= ", kMaxLayerUnits, " (got ", layer.units(), ")"));
    }
    LayerSpec spec;
    spec.units = layer.units();
    ASSIGN_OR_RETURN(spec.activation,
                     ToHiddenActivation(layer.activation(), StrCat(path, ".activation")));
    if (layer.has_negative_slope()) {
      if (spec.activation != Activation::kLeakyRelu) {
        return InvalidArgumentError(
            StrCat(path, ".negative_slope applies to LEAKY_RELU only (activation is ",
                   v1::Activation_Name(ToProtoActivation(spec.activation)),
                   "); remove it or use LEAKY_RELU"));
      }
      spec.negative_slope = layer.negative_slope();
    }
    result.hidden_layers.push_back(spec);
  }
  switch (model.initialization()) {
    case v1::INITIALIZATION_UNSPECIFIED:
    case v1::PYTORCH_DEFAULT:
      result.initialization = Initialization::kPytorchDefault;
      break;
    case v1::XAVIER_UNIFORM:
      result.initialization = Initialization::kXavierUniform;
      break;
    case v1::XAVIER_NORMAL:
      result.initialization = Initialization::kXavierNormal;
      break;
    case v1::HE_UNIFORM:
      result.initialization = Initialization::kHeUniform;
      break;
    case v1::HE_NORMAL:
      result.initialization = Initialization::kHeNormal;
      break;
    default:
      return InvalidArgumentError(StrCat(
          "spec.model.initialization has unknown value ", static_cast<int>(model.initialization()),
          "; use PYTORCH_DEFAULT, XAVIER_UNIFORM, XAVIER_NORMAL, HE_UNIFORM or HE_NORMAL"));
  }
  return result;
}

absl::StatusOr<LossSpec> ToLossSpec(const v1::JobSpec& spec) {
  LossSpec result;
  switch (spec.loss()) {
    case v1::MEAN_SQUARED_ERROR:
      result.kind = LossKind::kMeanSquaredError;
      break;
    case v1::BINARY_CROSS_ENTROPY:
      result.kind = LossKind::kBinaryCrossEntropy;
      break;
    case v1::CATEGORICAL_CROSS_ENTROPY:
      result.kind = LossKind::kCategoricalCrossEntropy;
      break;
    case v1::LOSS_UNSPECIFIED:
      return InvalidArgumentError(StrCat("spec.loss must be set: ", kLossChoices));
    default:
      return InvalidArgumentError(StrCat("spec.loss has unknown value ",
                                         static_cast<int>(spec.loss()), "; use ", kLossChoices));
  }
  const v1::LossOptions& options = spec.loss_options();
  result.pos_weight.assign(options.pos_weight().begin(), options.pos_weight().end());
  result.class_weights.assign(options.class_weights().begin(), options.class_weights().end());
  if (options.has_label_smoothing()) result.label_smoothing = options.label_smoothing();
  return result;
}

// Unset optional fields keep OptimizerSpec's defaults, which are torch.optim's.
absl::StatusOr<OptimizerSpec> ToOptimizerSpec(const v1::Optimizer& optimizer) {
  OptimizerSpec result;
  switch (optimizer.kind_case()) {
    case v1::Optimizer::kSgd: {
      const v1::Sgd& sgd = optimizer.sgd();
      result.kind = OptimizerKind::kSgd;
      if (sgd.has_learning_rate()) result.learning_rate = sgd.learning_rate();
      if (sgd.has_momentum()) result.momentum = sgd.momentum();
      if (sgd.has_dampening()) result.dampening = sgd.dampening();
      if (sgd.has_nesterov()) result.nesterov = sgd.nesterov();
      if (sgd.has_weight_decay()) result.weight_decay = sgd.weight_decay();
      break;
    }
    case v1::Optimizer::kAdam: {
      const v1::Adam& adam = optimizer.adam();
      result.kind = OptimizerKind::kAdam;
      if (adam.has_learning_rate()) result.learning_rate = adam.learning_rate();
      if (adam.has_beta1()) result.beta1 = adam.beta1();
      if (adam.has_beta2()) result.beta2 = adam.beta2();
      if (adam.has_epsilon()) result.epsilon = adam.epsilon();
      if (adam.has_amsgrad()) result.amsgrad = adam.amsgrad();
      if (adam.has_decoupled_weight_decay()) {
        result.decoupled_weight_decay = adam.decoupled_weight_decay();
      }
      // Decoupled is torch.optim.AdamW, whose weight_decay defaults to 0.01 (Adam's to 0).
      if (adam.has_weight_decay()) {
        result.weight_decay = adam.weight_decay();
      } else if (result.decoupled_weight_decay) {
        result.weight_decay = kAdamWDefaultWeightDecay;
      }
      break;
    }
    case v1::Optimizer::kRmsprop: {
      const v1::Rmsprop& rmsprop = optimizer.rmsprop();
      result.kind = OptimizerKind::kRmsprop;
      if (rmsprop.has_learning_rate()) result.learning_rate = rmsprop.learning_rate();
      if (rmsprop.has_alpha()) result.alpha = rmsprop.alpha();
      if (rmsprop.has_epsilon()) result.epsilon = rmsprop.epsilon();
      if (rmsprop.has_weight_decay()) result.weight_decay = rmsprop.weight_decay();
      if (rmsprop.has_momentum()) result.momentum = rmsprop.momentum();
      if (rmsprop.has_centered()) result.centered = rmsprop.centered();
      break;
    }
    case v1::Optimizer::kAdagrad: {
      const v1::Adagrad& adagrad = optimizer.adagrad();
      result.kind = OptimizerKind::kAdagrad;
      if (adagrad.has_learning_rate()) result.learning_rate = adagrad.learning_rate();
      if (adagrad.has_lr_decay()) result.lr_decay = adagrad.lr_decay();
      if (adagrad.has_weight_decay()) result.weight_decay = adagrad.weight_decay();
      if (adagrad.has_initial_accumulator_value()) {
        result.initial_accumulator_value = adagrad.initial_accumulator_value();
      }
      if (adagrad.has_epsilon()) result.epsilon = adagrad.epsilon();
      break;
    }
    case v1::Optimizer::KIND_NOT_SET:
      return InvalidArgumentError("spec.optimizer: set one of sgd, adam, rmsprop, adagrad");
  }
  return result;
}

absl::StatusOr<ScheduleSpec> ToScheduleSpec(const v1::LearningRateSchedule& schedule) {
  ScheduleSpec result;
  switch (schedule.kind()) {
    case v1::SCHEDULE_UNSPECIFIED:
    case v1::CONSTANT:
      result.kind = ScheduleKind::kConstant;
      break;
    case v1::STEP:
      result.kind = ScheduleKind::kStep;
      break;
    case v1::EXPONENTIAL:
      result.kind = ScheduleKind::kExponential;
      break;
    case v1::COSINE:
      result.kind = ScheduleKind::kCosine;
      break;
    default:
      return InvalidArgumentError(StrCat("spec.schedule.kind has unknown value ",
                                         static_cast<int>(schedule.kind()),
                                         "; use CONSTANT, STEP, EXPONENTIAL or COSINE"));
  }
  if (schedule.has_step_size()) result.step_size = schedule.step_size();
  if (schedule.has_gamma()) result.gamma = schedule.gamma();
  if (schedule.has_t_max()) result.t_max = schedule.t_max();
  if (schedule.has_eta_min()) result.eta_min = schedule.eta_min();
  result.warmup_steps = schedule.warmup_steps();
  if (schedule.has_warmup_start_factor()) {
    result.warmup_start_factor = schedule.warmup_start_factor();
  }
  return result;
}

TrainingOptions ToTrainingOptions(const v1::Training& training) {
  TrainingOptions result;
  if (training.has_epochs()) result.epochs = training.epochs();
  if (training.has_batch_size()) result.batch_size = training.batch_size();
  if (training.has_shuffle()) result.shuffle = training.shuffle();
  result.seed = training.seed();
  result.validation_fraction = training.validation_fraction();
  result.clip_grad_norm = training.clip_grad_norm();
  result.early_stopping.patience = training.early_stopping().patience();
  result.early_stopping.min_delta = training.early_stopping().min_delta();
  if (training.has_stop_on_divergence()) {
    result.stop_on_divergence = training.stop_on_divergence();
  }
  return result;
}

// The engine checks the generator options (ranges differ per generator); only `noise`
// needs a check here, because BuiltinOptions spells "unset" as a negative noise.
absl::StatusOr<Dataset> MakeBuiltin(const v1::BuiltinDataset& builtin) {
  constexpr absl::string_view kPath = "spec.dataset.builtin";
  BuiltinOptions options;
  if (builtin.has_samples()) options.samples = builtin.samples();
  options.seed = builtin.seed();
  options.classes = builtin.classes();
  options.features = builtin.features();
  if (builtin.has_noise()) {
    if (!(builtin.noise() >= 0)) {
      return InvalidArgumentError(StrCat(kPath, ".noise must be >= 0 (got ", builtin.noise(),
                                         "); leave it unset for the "
                                         "generator's default"));
    }
    options.noise = builtin.noise();
  }
  absl::StatusOr<Dataset> dataset = MakeBuiltinDataset(builtin.name(), options);
  if (!dataset.ok()) return AsSpecError(dataset.status(), kPath);
  return dataset;
}

// The features and targets of an inline dataset, shaped but not yet checked against the
// loss (FinishInline does that once the output count is known).
absl::StatusOr<Dataset> StartInline(const v1::InlineDataset& data, v1::Loss loss) {
  constexpr absl::string_view kPath = "spec.dataset.inline";
  if (!data.has_features()) {
    return InvalidArgumentError(
        StrCat(kPath, ".features must be set: a [samples, features] matrix"));
  }
  if (!data.has_targets()) {
    return InvalidArgumentError(
        StrCat(kPath,
               ".targets must be set: a [samples, outputs] matrix (class indices or "
               "probability rows for CATEGORICAL_CROSS_ENTROPY)"));
  }
  if (loss != v1::CATEGORICAL_CROSS_ENTROPY && data.num_classes() != 0) {
    return InvalidArgumentError(StrCat(kPath, ".num_classes applies to CATEGORICAL_CROSS_ENTROPY ",
                                       "only (loss is ", LossName(loss), "); remove it"));
  }
  if (loss == v1::MEAN_SQUARED_ERROR && data.class_names_size() > 0) {
    return InvalidArgumentError(
        StrCat(kPath,
               ".class_names applies to classification losses only (loss is MEAN_SQUARED_ERROR); "
               "remove it"));
  }
  Dataset dataset;
  ASSIGN_OR_RETURN(dataset.features, ToMatrix(data.features(), StrCat(kPath, ".features")));
  ASSIGN_OR_RETURN(dataset.targets, ToMatrix(data.targets(), StrCat(kPath, ".targets")));
  dataset.num_classes = data.num_classes();
  dataset.feature_names.assign(data.feature_names().begin(), data.feature_names().end());
  dataset.class_names.assign(data.class_names().begin(), data.class_names().end());
  return dataset;
}

// The class count follows from the loss: the network's outputs for cross-entropy, two for
// binary labels, none for regression. Then the engine checks the whole dataset.
absl::Status FinishInline(Dataset& dataset, v1::Loss loss, int outputs) {
  switch (loss) {
    case v1::CATEGORICAL_CROSS_ENTROPY:
      dataset.num_classes = outputs;
      break;
    case v1::BINARY_CROSS_ENTROPY:
      dataset.num_classes = 2;
      break;
    default:
      dataset.num_classes = 0;
      break;
  }
  return AsSpecError(ValidateDataset(dataset), "spec.dataset.inline");
}

// An uploaded table, by id or name, as training data for this spec.
absl::StatusOr<Dataset> TableDataset(const v1::JobSpec& spec, const DatasetStore* datasets,
                                     std::string* id) {
  const bool by_id = spec.dataset().has_id();
  const std::string field = by_id ? "spec.dataset.id" : "spec.dataset.name";
  const std::string& reference = by_id ? spec.dataset().id() : spec.dataset().name();
  if (reference.empty()) {
    return InvalidArgumentError(StrCat(field, " must be set: an uploaded dataset's ",
                                       by_id ? "id" : "name", " (`descent datasets` lists them)"));
  }
  if (datasets == nullptr) {
    return absl::FailedPreconditionError(
        StrCat(field, ": this server stores no uploaded datasets; use builtin or inline data"));
  }
  absl::StatusOr<LoadedDataset> loaded = datasets->Load(reference);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(), StrCat(field, ": ", loaded.status().message()));
  }
  *id = loaded->dataset.id();
  return TableToDataset(loaded->table, spec.dataset(), spec.loss());
}

absl::StatusOr<Dataset> StartDataset(const v1::JobSpec& spec, const DatasetStore* datasets,
                                     std::string* id) {
  const v1::DatasetSource& source = spec.dataset();
  if (!source.has_id() && !source.has_name()) {
    if (!source.targets().empty() || !source.features().empty()) {
      return InvalidArgumentError(
          StrCat("spec.dataset.", source.targets().empty() ? "features" : "targets",
                 " applies to uploaded datasets (dataset.id or dataset.name) only; remove it"));
    }
  }
  switch (spec.dataset().source_case()) {
    case v1::DatasetSource::kId:
    case v1::DatasetSource::kName:
      return TableDataset(spec, datasets, id);
    case v1::DatasetSource::kBuiltin: {
      ASSIGN_OR_RETURN(Dataset dataset, MakeBuiltin(spec.dataset().builtin()));
      if (spec.loss() == v1::MEAN_SQUARED_ERROR) {
        // Regression on class labels is allowed (it is what MSE on 0/1 targets does), but
        // the result is numbers, not classes.
        dataset.num_classes = 0;
        dataset.class_names.clear();
      }
      return dataset;
    }
    case v1::DatasetSource::kInline:
      return StartInline(spec.dataset().inline_(), spec.loss());
    case v1::DatasetSource::SOURCE_NOT_SET:
      break;
  }
  return InvalidArgumentError("spec.dataset: set one of builtin, inline, id, name");
}

// The network's output units for this loss and data.
absl::StatusOr<int> ModelOutputs(const v1::JobSpec& spec, const LossSpec& loss,
                                 const Dataset& dataset) {
  absl::StatusOr<int> outputs = OutputUnits(loss, dataset.targets, dataset.num_classes);
  if (outputs.ok() || !spec.dataset().has_builtin()) {
    return outputs.ok() ? outputs : AsSpecError(outputs.status(), "spec.dataset.inline.targets");
  }
  // Builtin data cannot be wrong, so the loss is: say which one fits.
  return InvalidArgumentError(
      StrCat("spec.loss ", LossName(spec.loss()), " does not fit builtin dataset ",
             spec.dataset().builtin().name(), " (", outputs.status().message(),
             "); use MEAN_SQUARED_ERROR for regression data, BINARY_CROSS_ENTROPY for two classes, "
             "CATEGORICAL_CROSS_ENTROPY for two or more"));
}

int64_t ParameterCount(int inputs, const ModelSpec& model, int outputs) {
  int64_t count = 0;
  int64_t fan_in = inputs;
  for (const LayerSpec& layer : model.hidden_layers) {
    count += (fan_in + 1) * layer.units;
    fan_in = layer.units;
  }
  return count + (fan_in + 1) * outputs;
}

// Warm-start parameters, shaped exactly like the model the spec describes.
absl::StatusOr<std::vector<LayerParameters>> ToInitialParameters(
    const v1::ModelParameters& parameters, int inputs, const ModelSpec& model, int outputs) {
  const int layers = static_cast<int>(model.hidden_layers.size()) + 1;
  if (parameters.layers_size() != layers) {
    return InvalidArgumentError(StrCat("spec.initial_parameters.layers must have ", layers,
                                       " entries, one per hidden layer plus the output layer (got ",
                                       parameters.layers_size(), ")"));
  }
  std::vector<LayerParameters> result;
  int fan_in = inputs;
  for (int i = 0; i < layers; ++i) {
    const int units = i + 1 < layers ? model.hidden_layers[i].units : outputs;
    const std::string path = StrCat("spec.initial_parameters.layers[", i, "]");
    const v1::LayerParameters& layer = parameters.layers(i);
    LayerParameters converted;
    ASSIGN_OR_RETURN(converted.weight, ToMatrix(layer.weight(), StrCat(path, ".weight")));
    if (converted.weight.rows() != units || converted.weight.cols() != fan_in) {
      return InvalidArgumentError(StrFormat("%s.weight must be %d x %d, [out, in] (got %d x %d)",
                                            path, units, fan_in, converted.weight.rows(),
                                            converted.weight.cols()));
    }
    if (layer.bias_size() != units) {
      return InvalidArgumentError(
          StrCat(path, ".bias must have ", units, " values (got ", layer.bias_size(), ")"));
    }
    RETURN_IF_ERROR(CheckFinite(layer.weight().values(), StrCat(path, ".weight.values")));
    RETURN_IF_ERROR(CheckFinite(layer.bias(), StrCat(path, ".bias")));
    converted.bias.assign(layer.bias().begin(), layer.bias().end());
    result.push_back(std::move(converted));
    fan_in = units;
  }
  return result;
}

// The flag-set service limits, checked once the engine accepted the numbers (so epochs >= 1
// etc.).
absl::Status CheckLimits(const TrainSpec& spec, const Dataset& dataset, int outputs,
                         const SpecLimits& limits) {
  const int64_t parameters = ParameterCount(dataset.features.cols(), spec.model, outputs);
  if (parameters > limits.max_model_parameters) {
    return InvalidArgumentError(StrCat(
        "spec.model has ", parameters, " parameters; at most ", limits.max_model_parameters,
        " are allowed (descentd --max-model-parameters): use fewer or smaller hidden_layers"));
  }
  const int64_t steps = PlannedSteps(spec.training, dataset.samples());
  if (steps > limits.max_steps_per_job) {
    return InvalidArgumentError(StrCat(
        "spec.training asks for ", steps,
        " optimizer steps (epochs x batches per epoch); at most ", limits.max_steps_per_job,
        " are allowed (descentd --max-steps-per-job): use fewer epochs or a larger batch_size"));
  }
  return absl::OkStatus();
}

// Measured before the data is converted, so an oversized dataset costs no copy.
absl::Status CheckInlineDatasetSize(const v1::DatasetSource& dataset, const SpecLimits& limits) {
  if (!dataset.has_inline_()) return absl::OkStatus();
  const int64_t bytes = static_cast<int64_t>(dataset.inline_().ByteSizeLong());
  if (bytes > limits.max_dataset_bytes) {
    return InvalidArgumentError(
        StrCat("spec.dataset.inline is ", bytes, " bytes; at most ", limits.max_dataset_bytes,
               " are allowed (descentd --max-dataset-bytes): use fewer rows or columns"));
  }
  return absl::OkStatus();
}

// The hidden layers of a trained model, rebuilt from its parameters and activations.
ModelSpec TrainedModelSpec(const TrainedModel& model) {
  ModelSpec spec;
  for (size_t i = 0; i + 1 < model.parameters.size(); ++i) {
    LayerSpec layer;
    layer.units = model.parameters[i].weight.rows();
    layer.activation = model.activations[i];
    const auto& hidden = model.spec.model().hidden_layers();
    if (static_cast<int>(i) < hidden.size() && hidden[i].has_negative_slope()) {
      layer.negative_slope = hidden[i].negative_slope();
    }
    spec.hidden_layers.push_back(layer);
  }
  return spec;
}

void CheckTrainedModel(const TrainedModel& model) {
  DESCENT_CHECK(!model.parameters.empty());
  DESCENT_CHECK(model.activations.size() == model.parameters.size());
  DESCENT_CHECK(model.parameters.front().weight.cols() == model.inputs);
}

}  // namespace

absl::Status ValidateJobId(absl::string_view job_id, absl::string_view field) {
  if (job_id.empty()) {
    return InvalidArgumentError(StrCat(field, " must be set: the job id `descent submit` printed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PreparedJob> PrepareJob(const v1::SubmitJobRequest& request) {
  return PrepareJob(request, nullptr);
}

absl::StatusOr<PreparedJob> PrepareJob(const v1::SubmitJobRequest& request,
                                       const DatasetStore* datasets, const SpecLimits& limits) {
  if (request.request_id().size() > kMaxRequestIdLength) {
    return InvalidArgumentError(StrCat("request_id must be at most ", kMaxRequestIdLength,
                                       " characters (got ", request.request_id().size(), ")"));
  }
  if (!request.has_spec()) {
    return InvalidArgumentError("spec must be set: the job to run");
  }
  const v1::JobSpec& spec = request.spec();
  if (spec.name().size() > kMaxNameLength) {
    return InvalidArgumentError(StrCat("spec.name must be at most ", kMaxNameLength,
                                       " characters (got ", spec.name().size(), ")"));
  }

  PreparedJob job;
  TrainSpec& train = job.train_spec;
  ASSIGN_OR_RETURN(train.loss, ToLossSpec(spec));
  ASSIGN_OR_RETURN(train.optimizer, ToOptimizerSpec(spec.optimizer()));
  ASSIGN_OR_RETURN(train.model, ToModelSpec(spec.model()));
  ASSIGN_OR_RETURN(train.schedule, ToScheduleSpec(spec.schedule()));
  train.training = ToTrainingOptions(spec.training());
  RETURN_IF_ERROR(AsSpecError(Validate(train), "spec"));

  RETURN_IF_ERROR(CheckInlineDatasetSize(spec.dataset(), limits));
  std::string dataset_id;
  ASSIGN_OR_RETURN(job.dataset, StartDataset(spec, datasets, &dataset_id));
  ASSIGN_OR_RETURN(const int outputs, ModelOutputs(spec, train.loss, job.dataset));
  if (spec.dataset().has_inline_()) {
    RETURN_IF_ERROR(FinishInline(job.dataset, spec.loss(), outputs));
  }
  // Built only to check the loss options against the output count, as training will.
  RETURN_IF_ERROR(AsSpecError(MakeLoss(train.loss, outputs).status(), "spec.loss_options"));
  RETURN_IF_ERROR(CheckLimits(train, job.dataset, outputs, limits));
  if (spec.initial_parameters().layers_size() > 0) {
    ASSIGN_OR_RETURN(job.initial_parameters,
                     ToInitialParameters(spec.initial_parameters(), job.dataset.features.cols(),
                                         train.model, outputs));
  }
  job.spec = spec;
  // Output only: whatever the client sent is replaced; set for uploaded or standardised data.
  job.spec.mutable_dataset()->clear_resolved();
  if (dataset_id.empty() && !spec.dataset().standardize()) {
    job.request_id = request.request_id();
    return job;
  }
  v1::ResolvedDataset& resolved = *job.spec.mutable_dataset()->mutable_resolved();
  resolved.set_id(dataset_id);
  resolved.set_rows(job.dataset.samples());
  resolved.mutable_feature_names()->Add(job.dataset.feature_names.begin(),
                                        job.dataset.feature_names.end());
  if (spec.dataset().standardize()) {
    const Standardization standardization = FitStandardization(
        job.dataset.features, TrainingRows(train.training, job.dataset.samples()));
    ApplyStandardization(standardization, &job.dataset.features);
    resolved.mutable_mean()->Add(standardization.mean.begin(), standardization.mean.end());
    resolved.mutable_scale()->Add(standardization.scale.begin(), standardization.scale.end());
  }
  job.request_id = request.request_id();
  return job;
}

v1::ExportModelResponse ToExportModelResponse(const TrainedModel& model) {
  CheckTrainedModel(model);
  v1::ExportModelResponse response;
  response.set_job_id(model.job_id);
  response.set_inputs(model.inputs);
  const ModelSpec hidden = TrainedModelSpec(model);
  for (const LayerSpec& layer : hidden.hidden_layers) {
    v1::Layer* out = response.add_layers();
    out->set_units(layer.units);
    out->set_activation(ToProtoActivation(layer.activation));
    if (layer.activation == Activation::kLeakyRelu) out->set_negative_slope(layer.negative_slope);
  }
  v1::Layer* output = response.add_layers();
  output->set_units(model.parameters.back().weight.rows());
  output->set_activation(ToProtoOutputActivation(model.loss.kind));
  response.set_output_activation(ToProtoOutputActivation(model.loss.kind));
  response.set_loss(ToProtoLoss(model.loss.kind));
  std::vector<LayerParameters> parameters = model.parameters;
  absl::StatusOr<Standardization> standardization =
      RecordedStandardization(model.spec.dataset().resolved(), model.inputs);
  DESCENT_CHECK(standardization.ok());
  FoldIntoFirstLayer(*standardization, &parameters);
  for (const LayerParameters& layer : parameters) {
    v1::LayerParameters* out = response.mutable_parameters()->add_layers();
    out->mutable_weight()->set_rows(layer.weight.rows());
    out->mutable_weight()->set_cols(layer.weight.cols());
    out->mutable_weight()->mutable_values()->Add(layer.weight.values().begin(),
                                                 layer.weight.values().end());
    out->mutable_bias()->Add(layer.bias.begin(), layer.bias.end());
  }
  response.mutable_feature_names()->Add(model.feature_names.begin(), model.feature_names.end());
  response.mutable_class_names()->Add(model.class_names.begin(), model.class_names.end());
  return response;
}

absl::Status ValidatePredictInputs(const v1::Matrix& inputs) {
  RETURN_IF_ERROR(ToMatrix(inputs, "inputs").status());
  return CheckFinite(inputs.values(), "inputs.values");
}

absl::StatusOr<v1::PredictResponse> PredictWithModel(const TrainedModel& model,
                                                     const v1::PredictRequest& request) {
  CheckTrainedModel(model);
  const std::vector<std::string> column_names(request.column_names().begin(),
                                              request.column_names().end());
  ASSIGN_OR_RETURN(const std::vector<int> order,
                   MatchColumns(column_names, request.inputs().cols(), model.feature_names,
                                model.inputs));
  RETURN_IF_ERROR(ValidatePredictInputs(request.inputs()));
  ASSIGN_OR_RETURN(Matrix x, ToMatrix(request.inputs(), "inputs"));
  if (!column_names.empty()) x = ReorderColumns(x, order);
  ASSIGN_OR_RETURN(const Standardization standardization,
                   RecordedStandardization(model.spec.dataset().resolved(), model.inputs));
  if (!standardization.mean.empty()) ApplyStandardization(standardization, &x);

  // The model is the job manager's and was trained by this engine, so failing to rebuild it
  // is a server bug, not the client's fault.
  const int outputs = model.parameters.back().weight.rows();
  auto internal = [&](const absl::Status& status) {
    return absl::InternalError(
        StrCat("cannot rebuild the model of job ", model.job_id, ": ", status.message()));
  };
  absl::StatusOr<Network> network =
      Network::Create(model.inputs, outputs, TrainedModelSpec(model), /*seed=*/0);
  if (!network.ok()) return internal(network.status());
  if (absl::Status status = network->SetParameters(model.parameters); !status.ok()) {
    return internal(status);
  }
  absl::StatusOr<std::unique_ptr<Loss>> loss = MakeLoss(model.loss, outputs);
  if (!loss.ok()) return internal(loss.status());
  ASSIGN_OR_RETURN(const Matrix y, Predict(*network, **loss, x));

  v1::PredictResponse response;
  v1::Matrix* out = response.mutable_outputs();
  out->set_rows(y.rows());
  out->set_cols(y.cols());
  out->mutable_values()->Add(y.values().begin(), y.values().end());
  const bool single_binary = model.loss.kind == LossKind::kBinaryCrossEntropy && y.cols() == 1;
  if (model.loss.kind == LossKind::kCategoricalCrossEntropy || single_binary) {
    for (int r = 0; r < y.rows(); ++r) {
      const float* row = y.row(r);
      const int cls = single_binary ? (row[0] >= 0.5f ? 1 : 0)
                                    : static_cast<int>(std::max_element(row, row + y.cols()) - row);
      response.add_classes(cls);
      if (cls < static_cast<int>(model.class_names.size())) {
        response.add_class_names(model.class_names[cls]);
      }
    }
    // Names for every row or for none.
    if (response.class_names_size() != response.classes_size()) response.clear_class_names();
  }
  return response;
}

}  // namespace descent::server
