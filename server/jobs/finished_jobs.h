// Retention's bookkeeping (--retain-finished-jobs, --retain-finished-for): the finished jobs
// (SUCCEEDED, FAILED, CANCELLED) by end time, and the store deletes of the ones it drops.
// Not thread-safe: the JobManager calls it under its own mutex.
#ifndef DESCENT_SERVER_JOBS_FINISHED_JOBS_H_
#define DESCENT_SERVER_JOBS_FINISHED_JOBS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/time/time.h"

namespace descent::server {

class JobStore;

class FinishedJobs {
 public:
  // Keeps the newest `keep_newest` finished jobs and those that ended within `keep_for`;
  // 0 for either means no limit of that kind.
  FinishedJobs(int64_t keep_newest, absl::Duration keep_for)
      : keep_newest_(keep_newest), keep_for_(keep_for) {}

  void Add(absl::Time end_time, int64_t sequence) { by_end_time_.emplace(end_time, sequence); }

  // Removes and returns the jobs the limits no longer keep at `now`, oldest end time first
  // (ties by sequence).
  std::vector<int64_t> TakeExpired(absl::Time now);

  // True when the age limit needs applying while time passes (keep_for is set).
  bool HasAgeLimit() const { return keep_for_ > absl::ZeroDuration(); }
  // How often to apply the age limit: a tenth of keep_for, between 100 ms and a minute.
  absl::Duration CheckInterval() const;

 private:
  const int64_t keep_newest_;
  const absl::Duration keep_for_;
  absl::btree_set<std::pair<absl::Time, int64_t>> by_end_time_;
};

// Deletes these jobs and everything stored for them from `store`, a bounded batch per
// transaction so running jobs' checkpoints never wait long behind it. A batch that fails is
// logged to stderr and skipped: the jobs are already gone from the manager, and the next
// start, which applies retention again, deletes them.
void DeleteFromStore(JobStore& store, const std::vector<int64_t>& sequences);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_FINISHED_JOBS_H_
