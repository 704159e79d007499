#include "server/conversion/spec_conversion.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/dataset.h"
#include "engine/loss.h"
#include "engine/lr_finder.h"
#include "engine/network.h"
#include "base/status_macros.h"
#include "engine/trainer.h"
#include "server/conversion/dataset_resolution.h"
#include "server/conversion/engine_to_proto.h"
#include "server/conversion/spec_errors.h"
#include "server/datasets/standardization.h"

namespace descent::server {
namespace {

using ::absl::InvalidArgumentError;
using ::absl::StrCat;
using ::absl::StrFormat;

constexpr double kAdamWDefaultWeightDecay = 0.01;  // torch.optim.AdamW

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
                   v1::Activation_Name(ToProto(spec.activation)),
                   "); remove it or use LEAKY_RELU"));
      }
      spec.negative_slope = layer.negative_slope();
    }
    result.hidden_layers.push_back(spec);
  }
  ASSIGN_OR_RETURN(result.initialization,
                   ToInitialization(model.initialization(), "spec.model.initialization"));
  return result;
}

absl::StatusOr<LossSpec> ToLossSpec(const v1::JobSpec& spec) {
  LossSpec result;
  ASSIGN_OR_RETURN(result.kind, ToLossKind(spec.loss(), "spec.loss"));
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

}  // namespace

LrFindSpec ToLrFindSpec(const v1::LrFind& lr_find) {
  LrFindSpec result;
  if (lr_find.has_min_learning_rate()) result.min_learning_rate = lr_find.min_learning_rate();
  if (lr_find.has_max_learning_rate()) result.max_learning_rate = lr_find.max_learning_rate();
  if (lr_find.has_steps()) result.steps = lr_find.steps();
  if (lr_find.has_divergence_multiple()) {
    result.divergence_multiple = lr_find.divergence_multiple();
  }
  return result;
}

namespace {

absl::StatusOr<ScheduleSpec> ToScheduleSpec(const v1::LearningRateSchedule& schedule) {
  ScheduleSpec result;
  ASSIGN_OR_RETURN(result.kind, ToScheduleKind(schedule.kind(), "spec.schedule.kind"));
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
  if (spec.group().size() > kMaxGroupLength ||
      !std::all_of(spec.group().begin(), spec.group().end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
               c == '-';
      })) {
    return InvalidArgumentError(StrCat("spec.group must be at most ", kMaxGroupLength,
                                       " letters, digits, '.', '_' or '-' (got \"",
                                       absl::CHexEscape(spec.group().substr(0, 80)), "\")"));
  }

  PreparedJob job;
  TrainSpec& train = job.train_spec;
  ASSIGN_OR_RETURN(train.loss, ToLossSpec(spec));
  ASSIGN_OR_RETURN(train.optimizer, ToOptimizerSpec(spec.optimizer()));
  ASSIGN_OR_RETURN(train.model, ToModelSpec(spec.model()));
  ASSIGN_OR_RETURN(train.schedule, ToScheduleSpec(spec.schedule()));
  train.training = ToTrainingOptions(spec.training());
  if (spec.has_lr_find()) {
    job.lr_find = ToLrFindSpec(spec.lr_find());
    RETURN_IF_ERROR(AsSpecError(Validate(*job.lr_find), "spec"));
    // The range sets the rate: an SGD job file need not name one.
    train.optimizer.learning_rate = job.lr_find->min_learning_rate;
  }
  RETURN_IF_ERROR(AsSpecError(Validate(train), "spec"));

  RETURN_IF_ERROR(CheckInlineDatasetSize(spec.dataset(), limits));
  ASSIGN_OR_RETURN(ResolvedData data, ResolveDataset(spec, train.loss, datasets));
  job.dataset = std::move(data.dataset);
  const int outputs = data.outputs;
  const std::string& dataset_id = data.id;
  if (job.lr_find) {
    TrainingOptions one_epoch = train.training;
    one_epoch.epochs = 1;
    train = LrFindTrainSpec(std::move(train), *job.lr_find,
                            std::max<int64_t>(1, PlannedSteps(one_epoch, job.dataset.samples())));
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

}  // namespace descent::server
