// MakeOptimizer() and the state handling every optimizer shares (save, load, sizes).
#include "engine/optimizer.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/huge_pages.h"
#include "engine/optimizer_kinds.h"

namespace descent {
namespace internal {

StatefulOptimizer::StatefulOptimizer(absl::Span<const ParameterRef> params, int slots,
                                     float initial_value)
    : slots_(slots) {
  sizes_.reserve(params.size());
  buffers_.reserve(params.size() * slots);
  for (const ParameterRef& param : params) {
    DESCENT_CHECK(param.value.size() == param.grad.size());
    sizes_.push_back(param.value.size());
    for (int s = 0; s < slots; ++s) {
      buffers_.push_back(AdvisedVector(param.value.size(), initial_value));
    }
  }
}

OptimizerState StatefulOptimizer::SaveState() const {
  return OptimizerState{.steps = steps_, .buffers = buffers_};
}

absl::Status StatefulOptimizer::LoadState(absl::Span<const ParameterRef> params,
                                          const OptimizerState& state) {
  if (params.size() != sizes_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer state is for ", sizes_.size(),
                                                   " parameter tensors, got ", params.size()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].value.size() != sizes_[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state: parameter ", i, " has ", params[i].value.size(),
                       " values, the optimizer was built for ", sizes_[i]));
    }
  }
  if (state.steps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer state: steps must be >= 0 (got ", state.steps, ")"));
  }
  if (state.buffers.size() != buffers_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer state has ", state.buffers.size(), " buffers; this optimizer ",
                     "and model need ", buffers_.size(), " (was it saved with other options?)"));
  }
  for (size_t b = 0; b < buffers_.size(); ++b) {
    if (state.buffers[b].size() != buffers_[b].size()) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state buffer ", b, " has ",
                                                     state.buffers[b].size(), " values; parameter ",
                                                     b / slots_, " needs ", buffers_[b].size()));
    }
  }
  // Validated in full first, so a rejected state leaves the optimizer untouched.
  for (size_t b = 0; b < buffers_.size(); ++b) {
    std::copy(state.buffers[b].begin(), state.buffers[b].end(), buffers_[b].begin());
  }
  steps_ = state.steps;
  return absl::OkStatus();
}

void StatefulOptimizer::CheckParams(absl::Span<const ParameterRef> params) const {
  DESCENT_CHECK(params.size() == sizes_.size());
  for (size_t i = 0; i < params.size(); ++i) {
    DESCENT_CHECK(params[i].value.size() == sizes_[i] && params[i].grad.size() == sizes_[i]);
  }
}

}  // namespace internal

std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerSpec& spec,
                                         absl::Span<const ParameterRef> params) {
  switch (spec.kind) {
    case OptimizerKind::kSgd:
      return internal::MakeSgd(spec, params);
    case OptimizerKind::kAdam:
      return internal::MakeAdam(spec, params);
    case OptimizerKind::kRmsprop:
      return internal::MakeRmsprop(spec, params);
    case OptimizerKind::kAdagrad:
      return internal::MakeAdagrad(spec, params);
  }
  DESCENT_CHECK(false && "unknown optimizer kind");
  return nullptr;
}

}  // namespace descent
