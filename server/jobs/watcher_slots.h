// The open Watch calls of a JobManager: at most a fixed number per job
// (--max-watchers-per-job), and a count the manager's destructor waits to drain. Thread-safe;
// its mutex is a leaf (nothing is called while it is held).
#ifndef DESCENT_SERVER_JOBS_WATCHER_SLOTS_H_
#define DESCENT_SERVER_JOBS_WATCHER_SLOTS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace descent::server {

class WatcherSlots {
 public:
  explicit WatcherSlots(int max_per_job) : max_per_job_(max_per_job) {}

  // Takes a slot for a stream of `job_id`. RESOURCE_EXHAUSTED, naming the job and the flag,
  // when the job already has max_per_job streams (nothing is taken then).
  absl::Status Acquire(const std::string& job_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Gives back a slot Acquire took.
  void Release(const std::string& job_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until every slot taken has been given back.
  void AwaitNone() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool NoneTaken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return taken_ == 0; }

  const int max_per_job_;
  absl::Mutex mu_;
  int taken_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> per_job_ ABSL_GUARDED_BY(mu_);  // no zero entries
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_WATCHER_SLOTS_H_
