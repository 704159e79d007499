#include "server/datasets/standardization.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/batching.h"
#include "base/status_macros.h"

namespace descent::server {

std::vector<int> TrainingRows(const TrainingOptions& training, int samples) {
  // The head of the trainer's split permutation, as Trainer::Create takes it.
  const int train_rows =
      std::max(0, samples - ValidationRows(samples, training.validation_fraction));
  std::vector<int> rows = SplitPermutation(training.seed, samples);
  rows.resize(train_rows);
  return rows;
}

Standardization FitStandardization(const Matrix& features, const std::vector<int>& rows) {
  const int cols = features.cols();
  std::vector<double> sum(cols, 0.0);
  for (int r : rows) {
    for (int c = 0; c < cols; ++c) sum[c] += features.row(r)[c];
  }
  const double n = std::max<size_t>(rows.size(), 1);
  std::vector<double> mean(cols);
  for (int c = 0; c < cols; ++c) mean[c] = sum[c] / n;
  std::vector<double> squares(cols, 0.0);
  for (int r : rows) {
    for (int c = 0; c < cols; ++c) {
      const double d = features.row(r)[c] - mean[c];
      squares[c] += d * d;
    }
  }
  Standardization result;
  for (int c = 0; c < cols; ++c) {
    const double deviation = std::sqrt(squares[c] / n);
    result.mean.push_back(static_cast<float>(mean[c]));
    // sklearn's rule: a (near-)constant feature is centred but not scaled.
    const bool constant = !(deviation > 1e-12 * std::max(1.0, std::abs(mean[c])));
    result.scale.push_back(constant ? 1.0f : static_cast<float>(deviation));
  }
  return result;
}

void ApplyStandardization(const Standardization& standardization, Matrix* x) {
  DESCENT_CHECK(static_cast<int>(standardization.mean.size()) == x->cols());
  for (int r = 0; r < x->rows(); ++r) {
    float* row = x->row(r);
    for (int c = 0; c < x->cols(); ++c) {
      row[c] = (row[c] - standardization.mean[c]) / standardization.scale[c];
    }
  }
}

absl::StatusOr<Standardization> RecordedStandardization(const v1::ResolvedDataset& resolved,
                                                        int features) {
  Standardization result;
  if (resolved.mean_size() == 0 && resolved.scale_size() == 0) return result;
  if (resolved.mean_size() != features || resolved.scale_size() != features) {
    return absl::InternalError(absl::StrCat(
        "the job's standardisation has ", resolved.mean_size(), " means and ",
        resolved.scale_size(), " scales for a model of ", features, " inputs"));
  }
  result.mean.assign(resolved.mean().begin(), resolved.mean().end());
  result.scale.assign(resolved.scale().begin(), resolved.scale().end());
  return result;
}

void FoldIntoFirstLayer(const Standardization& standardization,
                        std::vector<LayerParameters>* parameters) {
  if (standardization.mean.empty()) return;
  DESCENT_CHECK(!parameters->empty());
  LayerParameters& first = parameters->front();
  DESCENT_CHECK(first.weight.cols() == static_cast<int>(standardization.mean.size()));
  for (int o = 0; o < first.weight.rows(); ++o) {
    float* w = first.weight.row(o);
    double shift = 0.0;
    for (int i = 0; i < first.weight.cols(); ++i) {
      w[i] /= standardization.scale[i];
      shift += static_cast<double>(w[i]) * standardization.mean[i];
    }
    first.bias[o] = static_cast<float>(first.bias[o] - shift);
  }
}

}  // namespace descent::server
