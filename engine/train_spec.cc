// Validate() is the one place a spec's numeric options are range-checked. Ranges follow
// torch.optim / torch.nn's own checks (e.g. Adam's 0 <= beta < 1, LinearLR's
// 0 < start_factor <= 1), tightened only where PyTorch accepts a value that cannot train
// (a learning rate of 0, a NaN). Every message names the JobSpec field path, says what the
// value must be, and echoes what was given, so a user can fix the job file without the docs.
#include "engine/train_spec.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "engine/field_error.h"

namespace descent {
namespace {

// The JobSpec path of an optimizer option, e.g. "optimizer.adam.beta1".
std::string OptimizerField(OptimizerKind kind, absl::string_view field) {
  return absl::StrCat("optimizer.", OptimizerFieldName(kind), ".", field);
}

absl::Status OutOfRange(absl::string_view field, absl::string_view requirement, double got) {
  return InvalidFieldError(field, absl::StrCat(" must be ", requirement, " (got ", got, ")"));
}

// NaN fails every comparison, so each check is written as "!(value in range)".
absl::Status CheckPositive(absl::string_view field, double value) {
  if (!(value > 0) || !std::isfinite(value)) return OutOfRange(field, "> 0", value);
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::string_view field, double value) {
  if (!(value >= 0) || !std::isfinite(value)) return OutOfRange(field, ">= 0", value);
  return absl::OkStatus();
}

// [0, 1) when `upper_open`, else [0, 1].
absl::Status CheckUnitInterval(absl::string_view field, double value, bool upper_open) {
  const bool ok = upper_open ? (value >= 0 && value < 1) : (value >= 0 && value <= 1);
  if (!ok) return OutOfRange(field, upper_open ? "in [0, 1)" : "in [0, 1]", value);
  return absl::OkStatus();
}

absl::Status ValidateModel(const ModelSpec& model) {
  for (size_t i = 0; i < model.hidden_layers.size(); ++i) {
    const LayerSpec& layer = model.hidden_layers[i];
    const std::string path = absl::StrCat("model.hidden_layers[", i, "]");
    if (layer.units < 1) {
      return InvalidFieldError(absl::StrCat(path, ".units"),
                               absl::StrCat(" must be >= 1 (got ", layer.units, ")"));
    }
    if (layer.activation == Activation::kLeakyRelu && !std::isfinite(layer.negative_slope)) {
      return InvalidFieldError(
          absl::StrCat(path, ".negative_slope"),
          absl::StrCat(" must be a finite number (got ", layer.negative_slope, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLoss(const LossSpec& loss) {
  const bool bce = loss.kind == LossKind::kBinaryCrossEntropy;
  const bool ce = loss.kind == LossKind::kCategoricalCrossEntropy;
  if (!loss.pos_weight.empty() && !bce) {
    return InvalidFieldError("loss_options.pos_weight",
                             " applies only to BINARY_CROSS_ENTROPY; remove it or change loss");
  }
  if (!loss.class_weights.empty() && !ce) {
    return InvalidFieldError(
        "loss_options.class_weights",
        " applies only to CATEGORICAL_CROSS_ENTROPY; remove it or change loss");
  }
  if (loss.label_smoothing != 0.0f && !ce) {
    return InvalidFieldError(
        "loss_options.label_smoothing",
        " applies only to CATEGORICAL_CROSS_ENTROPY; remove it or change loss");
  }
  RETURN_IF_ERROR(CheckUnitInterval("loss_options.label_smoothing", loss.label_smoothing,
                                    /*upper_open=*/true));
  for (size_t i = 0; i < loss.pos_weight.size(); ++i) {
    RETURN_IF_ERROR(
        CheckNonNegative(absl::StrCat("loss_options.pos_weight[", i, "]"), loss.pos_weight[i]));
  }
  bool any_class_weight = false;
  for (size_t i = 0; i < loss.class_weights.size(); ++i) {
    RETURN_IF_ERROR(CheckNonNegative(absl::StrCat("loss_options.class_weights[", i, "]"),
                                     loss.class_weights[i]));
    any_class_weight |= loss.class_weights[i] > 0;
  }
  if (!loss.class_weights.empty() && !any_class_weight) {
    return InvalidFieldError("loss_options.class_weights",
                             " are all 0; at least one class needs a weight > 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateOptimizer(const OptimizerSpec& opt) {
  const OptimizerKind kind = opt.kind;
  auto field = [kind](absl::string_view name) { return OptimizerField(kind, name); };

  if (!opt.learning_rate.has_value()) {
    if (kind == OptimizerKind::kSgd) {
      return InvalidFieldError("optimizer.sgd.learning_rate",
                               " is required (PyTorch's SGD has no default); try 0.01");
    }
  } else {
    RETURN_IF_ERROR(CheckPositive(field("learning_rate"), *opt.learning_rate));
  }
  if (opt.epsilon.has_value()) {
    if (kind == OptimizerKind::kSgd) {
      return InvalidFieldError("optimizer.sgd", " has no epsilon; remove it");
    }
    RETURN_IF_ERROR(CheckNonNegative(field("epsilon"), *opt.epsilon));
  }
  RETURN_IF_ERROR(CheckNonNegative(field("weight_decay"), opt.weight_decay));

  switch (kind) {
    case OptimizerKind::kSgd:
      RETURN_IF_ERROR(CheckNonNegative(field("momentum"), opt.momentum));
      RETURN_IF_ERROR(CheckUnitInterval(field("dampening"), opt.dampening, /*upper_open=*/false));
      if (opt.nesterov && !(opt.momentum > 0 && opt.dampening == 0)) {
        return InvalidFieldError(
            "optimizer.sgd.nesterov",
            absl::StrCat(" requires momentum > 0 and dampening = 0 (got momentum ", opt.momentum,
                         ", dampening ", opt.dampening, ")"));
      }
      break;
    case OptimizerKind::kAdam:
      RETURN_IF_ERROR(CheckUnitInterval(field("beta1"), opt.beta1, /*upper_open=*/true));
      RETURN_IF_ERROR(CheckUnitInterval(field("beta2"), opt.beta2, /*upper_open=*/true));
      // AdamW multiplies every weight by (1 - lr * weight_decay) each step: above 1 the
      // weights flip sign every step, which PyTorch allows but nothing can learn from.
      if (opt.decoupled_weight_decay && opt.EffectiveLearningRate() * opt.weight_decay > 1) {
        return InvalidFieldError(
            "optimizer.adam.weight_decay",
            absl::StrCat(" * learning_rate must be <= 1 with decoupled_weight_decay (got ",
                         opt.EffectiveLearningRate() * opt.weight_decay, "); lower either"));
      }
      break;
    case OptimizerKind::kRmsprop:
      RETURN_IF_ERROR(CheckUnitInterval(field("alpha"), opt.alpha, /*upper_open=*/false));
      RETURN_IF_ERROR(CheckNonNegative(field("momentum"), opt.momentum));
      break;
    case OptimizerKind::kAdagrad:
      RETURN_IF_ERROR(CheckNonNegative(field("lr_decay"), opt.lr_decay));
      RETURN_IF_ERROR(
          CheckNonNegative(field("initial_accumulator_value"), opt.initial_accumulator_value));
      break;
  }
  return absl::OkStatus();
}

absl::Status ValidateSchedule(const ScheduleSpec& schedule) {
  switch (schedule.kind) {
    case ScheduleKind::kConstant:
      break;
    case ScheduleKind::kStep:
      if (schedule.step_size < 1) {
        return InvalidFieldError("schedule.step_size",
                                 absl::StrCat(" must be >= 1 (got ", schedule.step_size, ")"));
      }
      RETURN_IF_ERROR(CheckPositive("schedule.gamma", schedule.gamma));
      break;
    case ScheduleKind::kExponential:
      RETURN_IF_ERROR(CheckPositive("schedule.gamma", schedule.gamma));
      break;
    case ScheduleKind::kCosine:
      if (schedule.t_max < 0) {
        return InvalidFieldError(
            "schedule.t_max",
            absl::StrCat(" must be >= 0 (got ", schedule.t_max, "); 0 means the whole run"));
      }
      RETURN_IF_ERROR(CheckNonNegative("schedule.eta_min", schedule.eta_min));
      break;
  }
  if (schedule.warmup_steps < 0) {
    return InvalidFieldError("schedule.warmup_steps",
                             absl::StrCat(" must be >= 0 (got ", schedule.warmup_steps, ")"));
  }
  if (!(schedule.warmup_start_factor > 0 && schedule.warmup_start_factor <= 1)) {
    return OutOfRange("schedule.warmup_start_factor", "in (0, 1]", schedule.warmup_start_factor);
  }
  return absl::OkStatus();
}

absl::Status ValidateTraining(const TrainingOptions& training) {
  if (training.epochs < 1) {
    return InvalidFieldError("training.epochs",
                             absl::StrCat(" must be >= 1 (got ", training.epochs, ")"));
  }
  if (training.batch_size < 0) {
    return InvalidFieldError(
        "training.batch_size",
        absl::StrCat(" must be >= 0 (got ", training.batch_size, "); 0 means full batch"));
  }
  RETURN_IF_ERROR(CheckUnitInterval("training.validation_fraction", training.validation_fraction,
                                    /*upper_open=*/true));
  RETURN_IF_ERROR(CheckNonNegative("training.clip_grad_norm", training.clip_grad_norm));
  if (training.early_stopping.patience < 0) {
    return InvalidFieldError("training.early_stopping.patience",
                             absl::StrCat(" must be >= 0 (got ", training.early_stopping.patience,
                                          "); 0 turns early stopping off"));
  }
  RETURN_IF_ERROR(
      CheckNonNegative("training.early_stopping.min_delta", training.early_stopping.min_delta));
  return absl::OkStatus();
}

}  // namespace

double OptimizerSpec::EffectiveLearningRate() const {
  if (learning_rate.has_value()) return *learning_rate;
  switch (kind) {
    case OptimizerKind::kAdam:
      return 1e-3;
    case OptimizerKind::kRmsprop:
    case OptimizerKind::kAdagrad:
      return 1e-2;
    case OptimizerKind::kSgd:
      break;
  }
  DESCENT_CHECK(false && "SGD has no default learning rate; Validate() rejects it");
  return 0.0;
}

double OptimizerSpec::EffectiveEpsilon() const {
  if (epsilon.has_value()) return *epsilon;
  switch (kind) {
    case OptimizerKind::kAdam:
    case OptimizerKind::kRmsprop:
      return 1e-8;
    case OptimizerKind::kAdagrad:
      return 1e-10;
    case OptimizerKind::kSgd:
      break;
  }
  return 0.0;  // SGD has no epsilon
}

const char* OptimizerFieldName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kRmsprop:
      return "rmsprop";
    case OptimizerKind::kAdagrad:
      return "adagrad";
  }
  return "unknown";
}

absl::Status Validate(const TrainSpec& spec) {
  RETURN_IF_ERROR(ValidateModel(spec.model));
  RETURN_IF_ERROR(ValidateLoss(spec.loss));
  RETURN_IF_ERROR(ValidateOptimizer(spec.optimizer));
  RETURN_IF_ERROR(ValidateSchedule(spec.schedule));
  RETURN_IF_ERROR(ValidateTraining(spec.training));
  return absl::OkStatus();
}

}  // namespace descent
