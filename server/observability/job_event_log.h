// The job manager's events as log lines (log.h), one per job event: submitted, recovered
// at start, started, resumed from a checkpoint, and finished (job_succeeded, job_failed
// with its error, job_cancelled), each naming the job and, when it ends, its state, steps
// and diagnosis verdict. Steps and watchers are not logged: they are metrics.
#ifndef DESCENT_SERVER_OBSERVABILITY_JOB_EVENT_LOG_H_
#define DESCENT_SERVER_OBSERVABILITY_JOB_EVENT_LOG_H_

#include <cstdint>

#include "server/jobs/job_events.h"

namespace descent::server {

class JobEventLog : public JobEventListener {
 public:
  void OnSubmitted(const JobLabels& job) override;
  void OnRecovered(const JobLabels& job, v1::JobState state) override;
  void OnHandedOver(const JobLabels& job, v1::JobState state) override;
  void OnStateChange(const JobLabels& job, v1::JobState from, v1::JobState to,
                     absl::Duration time_in_from) override;
  void OnFinished(const v1::Job& job) override;
  // job_store_failed, an error.
  void OnEndNotStored(const JobLabels& job, v1::JobState state,
                      const absl::Status& error) override;
  void OnResumed(const JobLabels& job, int64_t step) override;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_JOB_EVENT_LOG_H_
