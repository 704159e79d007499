// MakeLoss() and OutputUnits(): which loss, how many network outputs, and whether the
// targets make sense for it. The losses themselves live in loss_mse.cc, loss_bce.cc and
// loss_cross_entropy.cc.
#include "engine/loss.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "engine/field_error.h"
#include "engine/loss_kinds.h"

namespace descent {
namespace {

// Targets reach the engine from an inline dataset (builtin generators always produce valid
// ones), so messages use that path.
constexpr char kTargets[] = "dataset.inline.targets";

// A row sum of probability targets may be off 1 by this much (rounded decimal input).
constexpr double kRowSumTolerance = 1e-3;

absl::Status BadTarget(size_t index, float value, absl::string_view problem) {
  return InvalidFieldError(absl::StrCat(kTargets, ".values[", index, "]"),
                           absl::StrCat(" is ", value, "; ", problem));
}

absl::StatusOr<int> BinaryOutputs(const Matrix& targets) {
  for (size_t i = 0; i < targets.size(); ++i) {
    const float y = targets.data()[i];
    if (!(y >= 0.0f && y <= 1.0f)) {
      return BadTarget(i, y, "BINARY_CROSS_ENTROPY labels must be in [0, 1]");
    }
  }
  return targets.cols();
}

absl::StatusOr<int> IndexTargetClasses(const Matrix& targets, int num_classes) {
  float max_index = 0.0f;
  for (size_t i = 0; i < targets.size(); ++i) {
    const float t = targets.data()[i];
    if (!(t >= 0.0f) || t != std::floor(t)) {
      return BadTarget(i, t, "CATEGORICAL_CROSS_ENTROPY class indices must be whole numbers >= 0");
    }
    max_index = std::max(max_index, t);
  }
  if (num_classes <= 0) {
    if (max_index >= 1e6f) {
      return InvalidFieldError(
          kTargets,
          absl::StrCat(" holds class index ", max_index,
                       "; CATEGORICAL_CROSS_ENTROPY supports fewer than 1000000 classes"));
    }
    num_classes = static_cast<int>(max_index) + 1;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    const float t = targets.data()[i];
    if (t >= static_cast<float>(num_classes)) {
      return BadTarget(i, t,
                       absl::StrCat("class indices must be in [0, ", num_classes,
                                    "); raise dataset.inline.num_classes or fix the label"));
    }
  }
  return num_classes;
}

absl::StatusOr<int> ProbabilityRowClasses(const Matrix& targets, int num_classes) {
  if (num_classes > 0 && num_classes != targets.cols()) {
    return InvalidFieldError(
        "dataset.inline.num_classes",
        absl::StrCat(" is ", num_classes, " but ", kTargets, " has ", targets.cols(),
                     " columns; probability rows need one column per class"));
  }
  for (int r = 0; r < targets.rows(); ++r) {
    double row_sum = 0.0;
    for (int c = 0; c < targets.cols(); ++c) {
      const float q = targets(r, c);
      if (!(q >= 0.0f && q <= 1.0f)) {
        return BadTarget(static_cast<size_t>(r) * targets.cols() + c, q,
                         "CATEGORICAL_CROSS_ENTROPY probability targets must be in [0, 1]");
      }
      row_sum += q;
    }
    if (std::abs(row_sum - 1.0) > kRowSumTolerance) {
      return InvalidFieldError(
          kTargets, absl::StrCat(" row ", r, " sums to ", row_sum,
                                 "; CATEGORICAL_CROSS_ENTROPY probability rows must sum to 1 (or "
                                 "give class indices in a single column)"));
    }
  }
  return targets.cols();
}

}  // namespace

namespace internal {

void CheckSameBatch(const Matrix& logits, const Matrix& targets) {
  DESCENT_CHECK(logits.rows() > 0 && logits.cols() > 0);
  DESCENT_CHECK(targets.rows() == logits.rows());
}

}  // namespace internal

OutputActivation OutputActivationOf(LossKind kind) {
  switch (kind) {
    case LossKind::kMeanSquaredError:
      return OutputActivation::kIdentity;
    case LossKind::kBinaryCrossEntropy:
      return OutputActivation::kSigmoid;
    case LossKind::kCategoricalCrossEntropy:
      return OutputActivation::kSoftmax;
  }
  DESCENT_CHECK(false && "unhandled LossKind");
  return OutputActivation::kIdentity;
}

absl::StatusOr<int> OutputUnits(const LossSpec& spec, const Matrix& targets, int num_classes) {
  if (targets.rows() == 0 || targets.cols() == 0) {
    return InvalidFieldError(kTargets, " is empty; give one row per sample");
  }
  int outputs = 0;
  switch (spec.kind) {
    case LossKind::kMeanSquaredError:
      outputs = targets.cols();
      break;
    case LossKind::kBinaryCrossEntropy: {
      ASSIGN_OR_RETURN(outputs, BinaryOutputs(targets));
      break;
    }
    case LossKind::kCategoricalCrossEntropy: {
      if (targets.cols() == 1) {
        ASSIGN_OR_RETURN(outputs, IndexTargetClasses(targets, num_classes));
      } else {
        ASSIGN_OR_RETURN(outputs, ProbabilityRowClasses(targets, num_classes));
      }
      if (outputs < 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("CATEGORICAL_CROSS_ENTROPY needs at least 2 classes (the targets name ",
                         outputs, "); set dataset.inline.num_classes or use BINARY_CROSS_ENTROPY"));
      }
      break;
    }
  }
  return outputs;
}

absl::StatusOr<std::unique_ptr<Loss>> MakeLoss(const LossSpec& spec, int outputs) {
  if (outputs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model needs at least 1 output (got ", outputs, ")"));
  }
  switch (spec.kind) {
    case LossKind::kMeanSquaredError:
      return internal::MakeMeanSquaredError();
    case LossKind::kBinaryCrossEntropy:
      if (!spec.pos_weight.empty() && spec.pos_weight.size() != static_cast<size_t>(outputs)) {
        return InvalidFieldError(
            "loss_options.pos_weight",
            absl::StrCat(" has ", spec.pos_weight.size(), " values but the model has ", outputs,
                         " outputs (one per target column); give ", outputs, " values or none"));
      }
      return internal::MakeBinaryCrossEntropy(spec.pos_weight);
    case LossKind::kCategoricalCrossEntropy:
      if (outputs < 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("CATEGORICAL_CROSS_ENTROPY needs at least 2 classes (got ", outputs, ")"));
      }
      if (!spec.class_weights.empty() &&
          spec.class_weights.size() != static_cast<size_t>(outputs)) {
        return InvalidFieldError(
            "loss_options.class_weights",
            absl::StrCat(" has ", spec.class_weights.size(), " values but there are ", outputs,
                         " classes; give ", outputs, " values or none"));
      }
      return internal::MakeCrossEntropy(spec.class_weights, spec.label_smoothing);
  }
  return InvalidFieldError(
      "loss",
      " must be one of MEAN_SQUARED_ERROR, BINARY_CROSS_ENTROPY or CATEGORICAL_CROSS_ENTROPY");
}

}  // namespace descent
