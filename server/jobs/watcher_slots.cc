#include "server/jobs/watcher_slots.h"

#include "absl/strings/str_cat.h"

namespace descent::server {

absl::Status WatcherSlots::Acquire(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  auto [it, added] = per_job_.try_emplace(job_id, 0);
  if (it->second >= max_per_job_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "job ", job_id, " already has the most watchers --max-watchers-per-job allows (",
        it->second, "); retry once one has ended, or raise --max-watchers-per-job"));
  }
  ++it->second;
  ++taken_;
  return absl::OkStatus();
}

void WatcherSlots::Release(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  --taken_;
  auto it = per_job_.find(job_id);
  if (--it->second == 0) per_job_.erase(it);
}

void WatcherSlots::AwaitNone() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &WatcherSlots::NoneTaken));
}

}  // namespace descent::server
