#include "server/conversion/engine_to_proto.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

// google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

constexpr char kLossChoices[] =
    "MEAN_SQUARED_ERROR (numbers), BINARY_CROSS_ENTROPY (two classes) or "
    "CATEGORICAL_CROSS_ENTROPY (three or more classes)";
constexpr char kHiddenActivationChoices[] = "IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH or GELU";

absl::Status UnknownValue(absl::string_view path, int value, absl::string_view choices) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, " has unknown value ", value, "; use ", choices));
}

}  // namespace

v1::Activation ToProto(Activation activation) {
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

v1::Activation ToProto(OutputActivation activation) {
  switch (activation) {
    case OutputActivation::kIdentity:
      return v1::IDENTITY;
    case OutputActivation::kSigmoid:
      return v1::SIGMOID;
    case OutputActivation::kSoftmax:
      return v1::SOFTMAX;
  }
  DESCENT_CHECK(false && "unhandled OutputActivation");
  return v1::ACTIVATION_UNSPECIFIED;
}

v1::Loss ToProto(LossKind kind) {
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
      return absl::InvalidArgumentError(absl::StrCat(
          path,
          " must not be SOFTMAX: softmax belongs to the output layer, which is added for you "
          "with loss CATEGORICAL_CROSS_ENTROPY; use ",
          kHiddenActivationChoices));
    default:
      return UnknownValue(path, activation, kHiddenActivationChoices);
  }
}

absl::StatusOr<LossKind> ToLossKind(v1::Loss loss, absl::string_view path) {
  switch (loss) {
    case v1::MEAN_SQUARED_ERROR:
      return LossKind::kMeanSquaredError;
    case v1::BINARY_CROSS_ENTROPY:
      return LossKind::kBinaryCrossEntropy;
    case v1::CATEGORICAL_CROSS_ENTROPY:
      return LossKind::kCategoricalCrossEntropy;
    case v1::LOSS_UNSPECIFIED:
      return absl::InvalidArgumentError(absl::StrCat(path, " must be set: ", kLossChoices));
    default:
      return UnknownValue(path, loss, kLossChoices);
  }
}

absl::StatusOr<Initialization> ToInitialization(v1::Initialization initialization,
                                                absl::string_view path) {
  switch (initialization) {
    case v1::INITIALIZATION_UNSPECIFIED:
    case v1::PYTORCH_DEFAULT:
      return Initialization::kPytorchDefault;
    case v1::XAVIER_UNIFORM:
      return Initialization::kXavierUniform;
    case v1::XAVIER_NORMAL:
      return Initialization::kXavierNormal;
    case v1::HE_UNIFORM:
      return Initialization::kHeUniform;
    case v1::HE_NORMAL:
      return Initialization::kHeNormal;
    default:
      return UnknownValue(path, initialization,
                          "PYTORCH_DEFAULT, XAVIER_UNIFORM, XAVIER_NORMAL, HE_UNIFORM or HE_NORMAL");
  }
}

absl::StatusOr<ScheduleKind> ToScheduleKind(v1::Schedule kind, absl::string_view path) {
  switch (kind) {
    case v1::SCHEDULE_UNSPECIFIED:
    case v1::CONSTANT:
      return ScheduleKind::kConstant;
    case v1::STEP:
      return ScheduleKind::kStep;
    case v1::EXPONENTIAL:
      return ScheduleKind::kExponential;
    case v1::COSINE:
      return ScheduleKind::kCosine;
    default:
      return UnknownValue(path, kind, "CONSTANT, STEP, EXPONENTIAL or COSINE");
  }
}

absl::StatusOr<Matrix> ToMatrix(const v1::Matrix& matrix, absl::string_view path) {
  if (matrix.rows() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".rows must be >= 1 (got ", matrix.rows(), ")"));
  }
  if (matrix.cols() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".cols must be >= 1 (got ", matrix.cols(), ")"));
  }
  const int64_t expected = static_cast<int64_t>(matrix.rows()) * matrix.cols();
  if (matrix.values_size() != expected) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s.values must hold rows x cols = %d x %d = %d numbers, row by row (got %d)", path,
        matrix.rows(), matrix.cols(), expected, matrix.values_size()));
  }
  return Matrix(matrix.rows(), matrix.cols(),
                std::vector<float>(matrix.values().begin(), matrix.values().end()));
}

absl::Status CheckFinite(const google::protobuf::RepeatedField<float>& values,
                         absl::string_view path) {
  for (int i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values.Get(i))) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s[%d] must be a finite number (got %f)", path, i, values.Get(i)));
    }
  }
  return absl::OkStatus();
}

v1::Metrics ToProto(const EvalMetrics& metrics) {
  v1::Metrics out;
  out.set_loss(metrics.loss);
  if (metrics.accuracy) out.set_accuracy(*metrics.accuracy);
  if (metrics.mae) out.set_mae(*metrics.mae);
  if (metrics.rmse) out.set_rmse(*metrics.rmse);
  if (metrics.r2) out.set_r2(*metrics.r2);
  return out;
}

v1::Verdict ToProto(Verdict verdict) {
  switch (verdict) {
    case Verdict::kNone:
      return v1::VERDICT_UNSPECIFIED;
    case Verdict::kLearning:
      return v1::LEARNING;
    case Verdict::kConverged:
      return v1::CONVERGED;
    case Verdict::kStalled:
      return v1::STALLED;
    case Verdict::kDiverged:
      return v1::DIVERGED;
  }
  DESCENT_CHECK(false && "unhandled Verdict");
  return v1::VERDICT_UNSPECIFIED;
}

v1::SuggestionRule ToProto(LrRule rule) {
  switch (rule) {
    case LrRule::kSteepestDecade:
      return v1::STEEPEST_DECADE;
    case LrRule::kValley:
      return v1::VALLEY;
    case LrRule::kSteepest:
      return v1::STEEPEST_SLOPE;
    case LrRule::kMinimum:
      return v1::MINIMUM_OVER_TEN;
  }
  DESCENT_CHECK(false && "unhandled LrRule");
  return v1::SUGGESTION_RULE_UNSPECIFIED;
}

namespace {

v1::LrFindCandidate CandidateToProto(const LrCandidate& candidate) {
  v1::LrFindCandidate out;
  out.set_rule(ToProto(candidate.rule));
  out.set_learning_rate(candidate.learning_rate);
  out.set_step(candidate.step);
  out.set_reason(candidate.reason);
  return out;
}

}  // namespace

v1::LrFindResult ToProto(const LrFindRun& run, const LrSuggestion& suggestion) {
  v1::LrFindResult out;
  out.set_suggested_learning_rate(suggestion.suggestion.learning_rate);
  *out.mutable_suggestion() = CandidateToProto(suggestion.suggestion);
  for (const LrCandidate& candidate : suggestion.candidates) {
    *out.add_candidates() = CandidateToProto(candidate);
  }
  out.mutable_points()->Reserve(static_cast<int>(run.points.size()));
  for (const LrFindPoint& point : run.points) {
    v1::LrFindPoint& wire = *out.add_points();
    wire.set_step(point.step);
    wire.set_learning_rate(point.learning_rate);
    wire.set_loss(point.loss);
    wire.set_smoothed_loss(point.smoothed_loss);
  }
  out.set_diverged(run.reason == StopReason::kDiverged);
  return out;
}

v1::Diagnosis ToProto(const Diagnosis& diagnosis) {
  v1::Diagnosis out;
  out.set_verdict(ToProto(diagnosis.verdict));
  out.set_step(diagnosis.step);
  out.set_message(diagnosis.message);
  return out;
}

v1::EpochSummary ToProto(const EpochSummary& summary) {
  v1::EpochSummary out;
  out.set_epoch(summary.epoch);
  out.set_last_step(summary.last_step);
  *out.mutable_train() = ToProto(summary.train);
  if (summary.validation) *out.mutable_validation() = ToProto(*summary.validation);
  return out;
}

namespace {

EvalMetrics FromProto(const v1::Metrics& metrics) {
  EvalMetrics out;
  out.loss = metrics.loss();
  if (metrics.has_accuracy()) out.accuracy = metrics.accuracy();
  if (metrics.has_mae()) out.mae = metrics.mae();
  if (metrics.has_rmse()) out.rmse = metrics.rmse();
  if (metrics.has_r2()) out.r2 = metrics.r2();
  return out;
}

}  // namespace

EpochSummary FromProto(const v1::EpochSummary& summary) {
  EpochSummary out;
  out.epoch = summary.epoch();
  out.last_step = summary.last_step();
  out.train = FromProto(summary.train());
  if (summary.has_validation()) out.validation = FromProto(summary.validation());
  return out;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  const absl::Time min_time = absl::FromUnixSeconds(kMinTimestampSeconds);
  const absl::Time max_time = absl::FromUnixSeconds(kMaxTimestampSeconds);
  time = std::clamp(time, min_time, max_time);
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds toward negative infinity
  const int64_t nanos = absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds));
  google::protobuf::Timestamp out;
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(nanos));
  return out;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

}  // namespace descent::server
