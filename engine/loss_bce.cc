// nn.BCEWithLogitsLoss(reduction='mean', pos_weight=p): per element, with l = (p - 1) y + 1,
//   loss = (1 - y) x + l (log1p(exp(-|x|)) + max(-x, 0))
// which is -[p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] without overflow for any x
// (PyTorch's own formulation), and dloss/dx = l sigmoid(x) - p y.
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

// 1 / (1 + e^-x), never evaluating exp of a large positive number.
double StableSigmoid(double x) {
  const double e = std::exp(-std::abs(x));  // in (0, 1]
  return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

class BinaryCrossEntropy final : public Loss {
 public:
  explicit BinaryCrossEntropy(std::vector<float> pos_weight) : pos_weight_(std::move(pos_weight)) {}

  void OutputTransform(Matrix* logits) const override {
    for (float& v : logits->span()) v = static_cast<float>(StableSigmoid(v));
  }

  OutputActivation output_activation() const override { return OutputActivation::kSigmoid; }

 private:
  double MeanLoss(const Matrix& logits, const Matrix& targets, Matrix* grad) const override {
    CheckSameBatch(logits, targets);
    DESCENT_CHECK(targets.cols() == logits.cols());
    DESCENT_CHECK(pos_weight_.empty() || pos_weight_.size() == static_cast<size_t>(logits.cols()));
    const double inv_n = 1.0 / static_cast<double>(logits.size());
    double sum = 0.0;
    for (int r = 0; r < logits.rows(); ++r) {
      const float* x_row = logits.row(r);
      const float* y_row = targets.row(r);
      float* g_row = grad != nullptr ? grad->row(r) : nullptr;
      for (int c = 0; c < logits.cols(); ++c) {
        const double x = x_row[c];
        const double y = y_row[c];
        const double p = pos_weight_.empty() ? 1.0 : pos_weight_[c];
        const double log_weight = (p - 1.0) * y + 1.0;
        const double e = std::exp(-std::abs(x));  // shared by the loss and sigmoid(x)
        sum += (1.0 - y) * x + log_weight * (std::log1p(e) + std::max(-x, 0.0));
        if (g_row != nullptr) {
          const double sigmoid = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
          g_row[c] = static_cast<float>((log_weight * sigmoid - p * y) * inv_n);
        }
      }
    }
    return sum * inv_n;
  }

  std::vector<float> pos_weight_;  // empty, or one per output column
};

}  // namespace

std::unique_ptr<Loss> MakeBinaryCrossEntropy(std::vector<float> pos_weight) {
  return std::make_unique<BinaryCrossEntropy>(std::move(pos_weight));
}

}  // namespace descent::internal
