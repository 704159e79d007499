// Learning-rate schedules as closed forms of torch.optim.lr_scheduler (1.13), with the
// schedule stepped once after every optimizer step:
//   warm-up (LinearLR, end_factor 1): lr * (f + (1 - f) * step / warmup_steps) while
//     step < warmup_steps; then the chosen schedule runs from s = step - warmup_steps, as
//     SequentialLR([LinearLR, schedule], milestones=[warmup_steps]) does.
//   constant     lr
//   StepLR       lr * gamma^floor(s / step_size)
//   ExponentialLR lr * gamma^s
//   CosineAnnealingLR eta_min + (lr - eta_min) * (1 + cos(pi * s / t_max)) / 2, with t_max
//     defaulting to the steps left after warm-up (at least 1). Past t_max the cosine keeps
//     going (the rate rises again), exactly like PyTorch's.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "base/status_macros.h"
#include "engine/optimizer.h"

namespace descent {

double ScheduledLearningRate(const ScheduleSpec& schedule, double base_lr, int64_t step,
                             int64_t total_steps) {
  DESCENT_CHECK(step >= 0);
  if (step < schedule.warmup_steps) {
    const double f = schedule.warmup_start_factor;
    return base_lr *
           (f + (1.0 - f) * static_cast<double>(step) / static_cast<double>(schedule.warmup_steps));
  }
  const int64_t s = step - schedule.warmup_steps;
  switch (schedule.kind) {
    case ScheduleKind::kConstant:
      return base_lr;
    case ScheduleKind::kStep:
      DESCENT_CHECK(schedule.step_size >= 1);
      return base_lr * std::pow(schedule.gamma, static_cast<double>(s / schedule.step_size));
    case ScheduleKind::kExponential:
      return base_lr * std::pow(schedule.gamma, static_cast<double>(s));
    case ScheduleKind::kCosine: {
      const int64_t t_max = schedule.t_max > 0
                                ? schedule.t_max
                                : std::max<int64_t>(1, total_steps - schedule.warmup_steps);
      const double phase = std::numbers::pi * static_cast<double>(s) / static_cast<double>(t_max);
      return schedule.eta_min + (base_lr - schedule.eta_min) * (1.0 + std::cos(phase)) / 2.0;
    }
  }
  DESCENT_CHECK(false && "unknown schedule kind");
  return base_lr;
}

}  // namespace descent
