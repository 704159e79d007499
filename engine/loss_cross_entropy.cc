// nn.CrossEntropyLoss(reduction='mean', weight=w, label_smoothing=e) on logits z, with
// log p = log_softmax(z) computed as z - logsumexp(z) (max-shifted, so no overflow):
//
// Index targets t (torch's nll_loss path), C classes, W = sum_i w[t_i]:
//   loss = sum_i [(1 - e) w[t_i] (-log p_i[t_i]) + (e / C) sum_c w[c] (-log p_i[c])] / W
//   dloss/dz_ij = [(1 - e) w[t_i] (p_ij - [j = t_i]) + (e / C) (sum_c w[c] p_ij - w[j])] / W
// Probability rows q (torch's soft-target path), smoothed q' = (1 - e) q + e / C:
//   loss = sum_i sum_c w[c] q'_ic (-log p_ic) / N
//   dloss/dz_ij = [(sum_c w[c] q'_ic) p_ij - w[j] q'_ij] / N
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "engine/loss.h"
#include "engine/loss_kinds.h"

namespace descent::internal {
namespace {

// One row's softmax normaliser, shifted by the row's maximum so no exp overflows:
// log(sum_c exp(z_c)) = max + log(sum). Each exp(z_c - max) is computed once; when
// `exps` is not null it keeps them (as float) for the gradient, p_c = exps[c] / sum.
struct RowNormaliser {
  double log_sum_exp;
  double inv_sum;
};

RowNormaliser Normalise(const float* z, int classes, float* exps) {
  const double max = *std::max_element(z, z + classes);
  double sum = 0.0;
  for (int c = 0; c < classes; ++c) {
    const double e = std::exp(z[c] - max);
    sum += e;
    if (exps != nullptr) exps[c] = static_cast<float>(e);
  }
  return {.log_sum_exp = max + std::log(sum), .inv_sum = 1.0 / sum};
}

class CrossEntropy final : public Loss {
 public:
  CrossEntropy(std::vector<float> class_weights, float label_smoothing)
      : class_weights_(std::move(class_weights)), label_smoothing_(label_smoothing) {}

  void OutputTransform(Matrix* logits) const override {
    for (int r = 0; r < logits->rows(); ++r) {
      float* z = logits->row(r);
      const double max = *std::max_element(z, z + logits->cols());
      double sum = 0.0;
      for (int c = 0; c < logits->cols(); ++c) {
        const double e = std::exp(z[c] - max);
        sum += e;
        z[c] = static_cast<float>(e);
      }
      const double inv_sum = 1.0 / sum;
      for (int c = 0; c < logits->cols(); ++c) z[c] = static_cast<float>(z[c] * inv_sum);
    }
  }

  OutputActivation output_activation() const override { return OutputActivation::kSoftmax; }

 private:
  double Weight(int c) const { return class_weights_.empty() ? 1.0 : class_weights_[c]; }

  double MeanLoss(const Matrix& logits, const Matrix& targets, Matrix* grad) const override {
    CheckSameBatch(logits, targets);
    DESCENT_CHECK(class_weights_.empty() ||
                  class_weights_.size() == static_cast<size_t>(logits.cols()));
    if (targets.cols() == 1) return RunIndexTargets(logits, targets, grad);
    DESCENT_CHECK(targets.cols() == logits.cols());
    return RunProbabilityTargets(logits, targets, grad);
  }

  double RunIndexTargets(const Matrix& logits, const Matrix& targets, Matrix* grad) const {
    const int classes = logits.cols();
    const double smooth = static_cast<double>(label_smoothing_) / classes;
    const double keep = 1.0 - label_smoothing_;
    double total_weight = 0.0;  // W: the summed weights of the targets
    double class_weight_sum = 0.0;
    for (int r = 0; r < targets.rows(); ++r) {
      const int t = static_cast<int>(targets(r, 0));
      DESCENT_CHECK(t >= 0 && t < classes);
      total_weight += Weight(t);
    }
    for (int c = 0; c < classes; ++c) class_weight_sum += Weight(c);
    if (total_weight == 0.0) {  // PyTorch: 0 / 0 = NaN; see loss.h
      if (grad != nullptr) grad->Fill(0.0f);
      return 0.0;
    }
    const double inv_w = 1.0 / total_weight;

    double sum = 0.0;
    for (int r = 0; r < logits.rows(); ++r) {
      const float* z = logits.row(r);
      const int t = static_cast<int>(targets(r, 0));
      float* g = grad != nullptr ? grad->row(r) : nullptr;
      const RowNormaliser norm = Normalise(z, classes, g);
      const double lse = norm.log_sum_exp;
      const double target_weight = Weight(t);
      double smooth_term = 0.0;
      if (smooth != 0.0) {
        for (int c = 0; c < classes; ++c) smooth_term += Weight(c) * (lse - z[c]);
      }
      sum += keep * target_weight * (lse - z[t]) + smooth * smooth_term;
      if (g == nullptr) continue;
      for (int c = 0; c < classes; ++c) {
        const double p = g[c] * norm.inv_sum;  // g holds exp(z_c - max)
        const double nll_grad = keep * target_weight * (p - (c == t ? 1.0 : 0.0));
        const double smooth_grad = smooth * (class_weight_sum * p - Weight(c));
        g[c] = static_cast<float>((nll_grad + smooth_grad) * inv_w);
      }
    }
    return sum * inv_w;
  }

  double RunProbabilityTargets(const Matrix& logits, const Matrix& targets, Matrix* grad) const {
    const int classes = logits.cols();
    const double smooth = static_cast<double>(label_smoothing_) / classes;
    const double keep = 1.0 - label_smoothing_;
    const double inv_n = 1.0 / logits.rows();
    double sum = 0.0;
    for (int r = 0; r < logits.rows(); ++r) {
      const float* z = logits.row(r);
      const float* q = targets.row(r);
      float* g = grad != nullptr ? grad->row(r) : nullptr;
      const RowNormaliser norm = Normalise(z, classes, g);
      const double lse = norm.log_sum_exp;
      double row_weight = 0.0;  // sum_c w[c] q'_c
      for (int c = 0; c < classes; ++c) {
        const double weighted = Weight(c) * (keep * q[c] + smooth);
        row_weight += weighted;
        sum += weighted * (lse - z[c]);
      }
      if (g == nullptr) continue;
      for (int c = 0; c < classes; ++c) {
        const double p = g[c] * norm.inv_sum;  // g holds exp(z_c - max)
        g[c] = static_cast<float>((row_weight * p - Weight(c) * (keep * q[c] + smooth)) * inv_n);
      }
    }
    return sum * inv_n;
  }

  std::vector<float> class_weights_;  // empty, or one per class
  float label_smoothing_;
};

}  // namespace

std::unique_ptr<Loss> MakeCrossEntropy(std::vector<float> class_weights, float label_smoothing) {
  return std::make_unique<CrossEntropy>(std::move(class_weights), label_smoothing);
}

}  // namespace descent::internal
