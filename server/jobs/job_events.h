// What the job manager tells the rest of the server about jobs and streams, so that
// observers (Prometheus metrics, logs) stay out of the job logic. Calls arrive on the
// thread that caused them — OnStep on a training thread between steps — so implementations
// must be cheap and thread-safe, and must never call back into the job manager.
#ifndef DESCENT_SERVER_JOBS_JOB_EVENTS_H_
#define DESCENT_SERVER_JOBS_JOB_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"

namespace descent::server {

struct JobLabels {
  std::string id;
  std::string name;
};

// Unfinished jobs of all the replicas sharing a job store, in one state on one replica.
struct ClusterJobCount {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // QUEUED or RUNNING
  std::string runner;  // the replica (Job.runner); empty for a job none has claimed yet
  int64_t jobs = 0;
};

class JobEventListener {
 public:
  virtual ~JobEventListener() = default;

  // A job was accepted (it is QUEUED now).
  virtual void OnSubmitted(const JobLabels& /*job*/) {}
  // An unfinished job was loaded from the job store at start-up, QUEUED or RUNNING (to be
  // resumed); its later transitions arrive as usual.
  virtual void OnRecovered(const JobLabels& /*job*/, v1::JobState /*state*/) {}
  // Every state transition, including QUEUED -> CANCELLED. `time_in_from` is how long the
  // job spent in `from` (queue wait for QUEUED -> RUNNING, run time for RUNNING -> terminal).
  virtual void OnStateChange(const JobLabels& /*job*/, v1::JobState /*from*/, v1::JobState /*to*/,
                             absl::Duration /*time_in_from*/) {}
  // A job reached a terminal state, right after its OnStateChange: the job as it ended
  // (state, progress, diagnosis, error).
  virtual void OnFinished(const v1::Job& /*job*/) {}
  // The job ended in `state` (this process reports that outcome) but the job store could not
  // record it, so the store keeps the job as it last wrote it: `error` says why. Arrives
  // before that job's OnStateChange.
  virtual void OnEndNotStored(const JobLabels& /*job*/, v1::JobState /*state*/,
                              const absl::Status& /*error*/) {}
  // A job this process counted as QUEUED or RUNNING (`state`) is another replica's now (a
  // shared job store: the replica claimed it, or this one lost its lease); it is no longer
  // counted here and hears of no further transition here.
  virtual void OnHandedOver(const JobLabels& /*job*/, v1::JobState /*state*/) {}
  // A job that was RUNNING when the server stopped continues training at `step` (its last
  // checkpoint; 0 without one).
  virtual void OnResumed(const JobLabels& /*job*/, int64_t /*step*/) {}
  // Every optimizer step of a running job.
  virtual void OnStep(const JobLabels& /*job*/, int64_t /*step*/, double /*loss*/,
                      int /*examples*/, absl::Duration /*step_time*/,
                      double /*steps_per_second*/) {}
  // A WatchJob stream opened (+1) or closed (-1).
  virtual void OnWatchersChanged(int /*delta*/) {}
  // Loss points written to a watcher's stream.
  virtual void OnLossPointsSent(int64_t /*points*/) {}
  // A watcher's buffer overflowed and it was switched to catching up from history.
  virtual void OnWatcherFellBehind() {}
  // With a shared job store, every few seconds: the unfinished jobs of every replica as the
  // store counts them (the complete list; a combination not in it has none).
  virtual void OnClusterJobs(const std::vector<ClusterJobCount>& /*counts*/) {}
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_EVENTS_H_
