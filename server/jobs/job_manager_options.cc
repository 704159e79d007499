#include "server/jobs/job_manager_options.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace descent::server {

absl::Status ValidateJobManagerOptions(const JobManagerOptions& options) {
  struct Bound {
    const char* name;
    int64_t value;
    int64_t least;
    const char* rule;  // `least` as users read it: sizes "> 0", counts ">= 1"
    const char* hint = "";
  };
  for (const Bound& bound : {
           Bound{"--workers", options.workers, 0, ">= 0"},
           Bound{"--max-queued-jobs", options.max_queued_jobs, 1, ">= 1"},
           Bound{"--max-watchers-per-job", options.max_watchers_per_job, 1, "> 0"},
           Bound{"--checkpoint-every-steps", options.checkpoint_every_steps, 1, ">= 1"},
           Bound{"--retain-finished-jobs", options.retain_finished_jobs, 0, ">= 0",
                 "; 0 keeps every job"},
           Bound{"blas_threads", options.blas_threads, 0, ">= 0"},
           Bound{"max_points_per_message", options.max_points_per_message, 1, ">= 1"},
           Bound{"watcher_fell_behind_steps", options.watcher_fell_behind_steps, 0, ">= 0"},
           Bound{"watch_page_steps", options.watch_page_steps, 1, ">= 1"},
       }) {
    if (bound.value < bound.least) {
      return absl::InvalidArgumentError(absl::StrCat(bound.name, " must be ", bound.rule,
                                                     " (got ", bound.value, ")", bound.hint));
    }
  }
  for (const auto& [flag, duration] :
       {std::pair{"--heartbeat-interval", options.heartbeat_interval},
        std::pair{"--checkpoint-every-seconds", options.checkpoint_every},
        std::pair{"--lease-timeout", options.lease_timeout},
        std::pair{"claim_poll_interval", options.claim_poll_interval}}) {
    if (duration <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " must be > 0 (got ", absl::FormatDuration(duration), ")"));
    }
  }
  if (options.retain_finished_for < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--retain-finished-for must be >= 0 (got ",
        absl::FormatDuration(options.retain_finished_for), "); 0 keeps jobs forever"));
  }
  if (options.store != nullptr && options.prepare == nullptr) {
    return absl::InvalidArgumentError("prepare must be set with a store");
  }
  return absl::OkStatus();
}

int BlasThreadsForRunningJobs(int cores, int running, int fixed) {
  if (fixed > 0) return fixed;
  return std::max(1, cores / std::max(1, running));
}

}  // namespace descent::server
