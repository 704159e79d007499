// nn.MSELoss(reduction='mean'): mean of (x - y)^2 over every element of the batch.
#include <cstddef>
#include <memory>

#include "base/status_macros.h"
#include "engine/loss.h"
#include "engine/loss_kinds.h"

namespace descent::internal {
namespace {

class MeanSquaredError final : public Loss {
 public:
  void OutputTransform(Matrix* /*logits*/) const override {}

  OutputActivation output_activation() const override { return OutputActivation::kIdentity; }

 private:
  // Writes d(mean)/dx = 2 (x - y) / n into grad when it is not null.
  double MeanLoss(const Matrix& logits, const Matrix& targets, Matrix* grad_matrix) const override {
    float* const grad = grad_matrix != nullptr ? grad_matrix->data() : nullptr;
    CheckSameBatch(logits, targets);
    DESCENT_CHECK(targets.cols() == logits.cols());
    const size_t n = logits.size();
    const float* x = logits.data();
    const float* y = targets.data();
    const double scale = 2.0 / static_cast<double>(n);
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double diff = static_cast<double>(x[i]) - static_cast<double>(y[i]);
      sum += diff * diff;
      if (grad != nullptr) grad[i] = static_cast<float>(scale * diff);
    }
    return sum / static_cast<double>(n);
  }
};

}  // namespace

std::unique_ptr<Loss> MakeMeanSquaredError() { return std::make_unique<MeanSquaredError>(); }

}  // namespace descent::internal
