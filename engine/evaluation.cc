#include "engine/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace descent {
namespace {

// Rows per evaluation chunk: large enough that BLAS runs efficiently, small enough that the
// activations of a wide network stay in the tens of megabytes.
constexpr int kEvalChunkRows = 2048;

int ArgMax(const float* values, int n) {
  return static_cast<int>(std::max_element(values, values + n) - values);
}

}  // namespace

int PredictedClass(OutputActivation activation, absl::Span<const float> logits) {
  switch (activation) {
    case OutputActivation::kSoftmax:
      return ArgMax(logits.data(), static_cast<int>(logits.size()));
    case OutputActivation::kSigmoid:
      // sigmoid(z) >= 0.5 exactly when z >= 0; deciding on z avoids sigmoid's rounding.
      if (logits.size() != 1) return -1;
      return logits[0] >= 0.0f ? 1 : 0;
    case OutputActivation::kIdentity:
      return -1;
  }
  return -1;
}

MetricsAccumulator::MetricsAccumulator(LossKind kind, int target_cols)
    : kind_(kind), target_cols_(target_cols) {
  if (!classification()) {
    column_sum_.assign(target_cols, 0.0);
    column_sq_sum_.assign(target_cols, 0.0);
    column_sq_error_.assign(target_cols, 0.0);
  }
}

void MetricsAccumulator::Reset() {
  judged_ = correct_ = elements_ = abs_error_sum_ = sq_error_sum_ = 0.0;
  std::fill(column_sum_.begin(), column_sum_.end(), 0.0);
  std::fill(column_sq_sum_.begin(), column_sq_sum_.end(), 0.0);
  std::fill(column_sq_error_.begin(), column_sq_error_.end(), 0.0);
}

void MetricsAccumulator::Add(const Matrix& logits, const Matrix& targets) {
  DESCENT_CHECK(logits.rows() == targets.rows() && targets.cols() == target_cols_);
  const int rows = logits.rows();
  const int outputs = logits.cols();
  switch (kind_) {
    case LossKind::kCategoricalCrossEntropy:
      for (int r = 0; r < rows; ++r) {
        const int predicted =
            PredictedClass(OutputActivation::kSoftmax, absl::MakeConstSpan(logits.row(r), outputs));
        const int expected = target_cols_ == 1 ? static_cast<int>(std::lround(targets(r, 0)))
                                               : ArgMax(targets.row(r), target_cols_);
        correct_ += predicted == expected ? 1.0 : 0.0;
      }
      judged_ += rows;
      break;
    case LossKind::kBinaryCrossEntropy:
      // Each output is its own label.
      DESCENT_CHECK(outputs == target_cols_);
      for (size_t i = 0; i < logits.size(); ++i) {
        const int predicted =
            PredictedClass(OutputActivation::kSigmoid, absl::MakeConstSpan(&logits.data()[i], 1));
        correct_ += predicted == (targets.data()[i] >= 0.5f ? 1 : 0) ? 1.0 : 0.0;
      }
      judged_ += static_cast<double>(logits.size());
      break;
    case LossKind::kMeanSquaredError: {
      DESCENT_CHECK(outputs == target_cols_);
      // The same sums in the same order as element-by-element updates of the members, but
      // the two running totals are locals and the column sums plain pointers: stores into
      // the members' vectors could alias the totals, which kept the compiler storing and
      // reloading them for every element: ~1 ms a step on the large benchmark network (batch
      // 256, 1024 outputs), ~0.4 ms now.
      double abs_error_sum = abs_error_sum_;
      double sq_error_sum = sq_error_sum_;
      double* const column_sum = column_sum_.data();
      double* const column_sq_sum = column_sq_sum_.data();
      double* const column_sq_error = column_sq_error_.data();
      for (int r = 0; r < rows; ++r) {
        const float* prediction = logits.row(r);
        const float* target = targets.row(r);
        for (int c = 0; c < outputs; ++c) {
          const double y = target[c];
          const double error = static_cast<double>(prediction[c]) - y;
          abs_error_sum += std::fabs(error);
          sq_error_sum += error * error;
          column_sum[c] += y;
          column_sq_sum[c] += y * y;
          column_sq_error[c] += error * error;
        }
      }
      abs_error_sum_ = abs_error_sum;
      sq_error_sum_ = sq_error_sum;
      elements_ += static_cast<double>(logits.size());
      break;
    }
  }
}

EvalMetrics MetricsAccumulator::Result(double loss) const {
  EvalMetrics metrics;
  metrics.loss = loss;
  if (classification()) {
    if (judged_ > 0) metrics.accuracy = correct_ / judged_;
    return metrics;
  }
  if (elements_ == 0) return metrics;
  metrics.mae = abs_error_sum_ / elements_;
  metrics.rmse = std::sqrt(sq_error_sum_ / elements_);
  const double rows = elements_ / target_cols_;
  double r2_sum = 0.0;
  for (int c = 0; c < target_cols_; ++c) {
    const double total = column_sq_sum_[c] - column_sum_[c] * column_sum_[c] / rows;
    // Relative to the column's scale: below this the column is constant up to rounding.
    const double tiny = 1e-12 * std::max(column_sq_sum_[c], 1e-300);
    if (total <= tiny) {
      r2_sum += column_sq_error_[c] <= tiny ? 1.0 : 0.0;
    } else {
      r2_sum += 1.0 - column_sq_error_[c] / total;
    }
  }
  metrics.r2 = r2_sum / target_cols_;
  return metrics;
}

std::vector<double> MetricsAccumulator::Save() const {
  std::vector<double> sums = {judged_, correct_, elements_, abs_error_sum_, sq_error_sum_};
  sums.insert(sums.end(), column_sum_.begin(), column_sum_.end());
  sums.insert(sums.end(), column_sq_sum_.begin(), column_sq_sum_.end());
  sums.insert(sums.end(), column_sq_error_.begin(), column_sq_error_.end());
  return sums;
}

absl::Status MetricsAccumulator::Load(absl::Span<const double> sums) {
  const size_t columns = column_sum_.size();
  if (sums.size() != 5 + 3 * columns) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint.epoch_metric_sums has ", sums.size(),
                                                   " values, expected ", 5 + 3 * columns,
                                                   "; was the checkpoint made with another spec?"));
  }
  judged_ = sums[0];
  correct_ = sums[1];
  elements_ = sums[2];
  abs_error_sum_ = sums[3];
  sq_error_sum_ = sums[4];
  std::copy_n(sums.begin() + 5, columns, column_sum_.begin());
  std::copy_n(sums.begin() + 5 + columns, columns, column_sq_sum_.begin());
  std::copy_n(sums.begin() + 5 + 2 * columns, columns, column_sq_error_.begin());
  return absl::OkStatus();
}

SplitEvaluator::SplitEvaluator(LossKind kind, int inputs, int target_cols, int max_rows,
                               std::vector<float> class_weights)
    : kind_(kind),
      max_rows_(std::max(1, std::min(max_rows, kEvalChunkRows))),
      class_weights_(std::move(class_weights)),
      chunk_x_(max_rows_, inputs),
      chunk_y_(max_rows_, target_cols),
      metrics_(kind, target_cols) {}

double SplitEvaluator::ChunkWeight(const Matrix& targets) const {
  if (kind_ != LossKind::kCategoricalCrossEntropy || class_weights_.empty() ||
      targets.cols() != 1) {
    return targets.rows();
  }
  double weight = 0.0;
  for (int r = 0; r < targets.rows(); ++r) {
    weight += class_weights_[static_cast<size_t>(std::lround(targets(r, 0)))];
  }
  return weight;
}

EvalMetrics SplitEvaluator::Run(Network& network, const Loss& loss, const Matrix& features,
                                const Matrix& targets) {
  DESCENT_CHECK(features.rows() == targets.rows());
  DESCENT_CHECK(features.cols() == chunk_x_.cols() && targets.cols() == chunk_y_.cols());
  metrics_.Reset();
  double weighted_loss = 0.0;
  double total_weight = 0.0;
  for (int begin = 0; begin < features.rows(); begin += max_rows_) {
    const int rows = std::min(max_rows_, features.rows() - begin);
    chunk_x_.Resize(rows, features.cols());
    chunk_y_.Resize(rows, targets.cols());
    std::memcpy(chunk_x_.data(), features.row(begin), sizeof(float) * chunk_x_.size());
    std::memcpy(chunk_y_.data(), targets.row(begin), sizeof(float) * chunk_y_.size());
    const Matrix& logits = network.Forward(chunk_x_);
    const double weight = ChunkWeight(chunk_y_);
    if (weight > 0) {
      weighted_loss += loss.Evaluate(logits, chunk_y_) * weight;
      total_weight += weight;
    }
    metrics_.Add(logits, chunk_y_);
  }
  return metrics_.Result(total_weight > 0 ? weighted_loss / total_weight : 0.0);
}

EvalMetrics Evaluate(Network& network, const Loss& loss, LossKind kind, const Matrix& features,
                     const Matrix& targets, absl::Span<const float> class_weights) {
  SplitEvaluator evaluator(kind, features.cols(), targets.cols(), features.rows(),
                           std::vector<float>(class_weights.begin(), class_weights.end()));
  return evaluator.Run(network, loss, features, targets);
}

absl::StatusOr<Prediction> Predict(Network& network, const Loss& loss, const Matrix& x) {
  if (x.cols() != network.inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("features must have ", network.inputs(),
                                                   " columns, one per model input (got ", x.cols(),
                                                   ")"));
  }
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x.data()[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("features.values[", i, "] is ", std::isnan(x.data()[i]) ? "NaN" : "infinite",
                       " (row ", i / x.cols(), ", column ", i % x.cols(), "); send finite values"));
    }
  }
  Prediction prediction;
  if (x.rows() == 0) {
    prediction.outputs = Matrix(0, network.outputs());
    return prediction;
  }
  prediction.outputs = network.Forward(x);
  const OutputActivation activation = loss.output_activation();
  if (PredictedClass(activation, prediction.outputs.span().subspan(0, network.outputs())) >= 0) {
    prediction.classes.reserve(static_cast<size_t>(x.rows()));
    for (int r = 0; r < x.rows(); ++r) {
      prediction.classes.push_back(PredictedClass(
          activation, absl::MakeConstSpan(prediction.outputs.row(r), network.outputs())));
    }
  }
  loss.OutputTransform(&prediction.outputs);
  return prediction;
}

}  // namespace descent
