// Hands every job event to several listeners in turn (the metrics, then the log), so the job
// manager keeps a single listener.
#ifndef DESCENT_SERVER_JOBS_JOB_EVENT_FANOUT_H_
#define DESCENT_SERVER_JOBS_JOB_EVENT_FANOUT_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "server/jobs/job_events.h"

namespace descent::server {

class JobEventFanout : public JobEventListener {
 public:
  // The listeners (non-null) must outlive this object.
  explicit JobEventFanout(std::vector<JobEventListener*> listeners)
      : listeners_(std::move(listeners)) {}

  void OnSubmitted(const JobLabels& job) override {
    for (JobEventListener* l : listeners_) l->OnSubmitted(job);
  }
  void OnRecovered(const JobLabels& job, v1::JobState state) override {
    for (JobEventListener* l : listeners_) l->OnRecovered(job, state);
  }
  void OnHandedOver(const JobLabels& job, v1::JobState state) override {
    for (JobEventListener* l : listeners_) l->OnHandedOver(job, state);
  }
  void OnStateChange(const JobLabels& job, v1::JobState from, v1::JobState to,
                     absl::Duration time_in_from) override {
    for (JobEventListener* l : listeners_) l->OnStateChange(job, from, to, time_in_from);
  }
  void OnFinished(const v1::Job& job) override {
    for (JobEventListener* l : listeners_) l->OnFinished(job);
  }
  void OnEndNotStored(const JobLabels& job, v1::JobState state,
                      const absl::Status& error) override {
    for (JobEventListener* l : listeners_) l->OnEndNotStored(job, state, error);
  }
  void OnResumed(const JobLabels& job, int64_t step) override {
    for (JobEventListener* l : listeners_) l->OnResumed(job, step);
  }
  void OnStep(const JobLabels& job, int64_t step, double loss, int examples,
              absl::Duration step_time, double steps_per_second) override {
    for (JobEventListener* l : listeners_) {
      l->OnStep(job, step, loss, examples, step_time, steps_per_second);
    }
  }
  void OnWatchersChanged(int delta) override {
    for (JobEventListener* l : listeners_) l->OnWatchersChanged(delta);
  }
  void OnLossPointsSent(int64_t points) override {
    for (JobEventListener* l : listeners_) l->OnLossPointsSent(points);
  }
  void OnWatcherFellBehind() override {
    for (JobEventListener* l : listeners_) l->OnWatcherFellBehind();
  }
  void OnClusterJobs(const std::vector<ClusterJobCount>& counts) override {
    for (JobEventListener* l : listeners_) l->OnClusterJobs(counts);
  }

 private:
  const std::vector<JobEventListener*> listeners_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_EVENT_FANOUT_H_
