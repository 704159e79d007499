// Helpers for the job manager tests: tiny jobs on builtin datasets, a listener that records
// what it is told, and waits that end on events (never on elapsed time).
#ifndef DESCENT_TESTS_SERVER_JOB_TEST_HELPERS_H_
#define DESCENT_TESTS_SERVER_JOB_TEST_HELPERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "gtest/gtest.h"
#include "server/jobs/job_events.h"
#include "server/jobs/job_manager.h"

namespace descent::server::testing {

// house_prices (13 features, regression), `samples` rows, 13-8-1 MSE/Adam, batch 16 and no
// validation split: samples / 16 steps per epoch (4 for the default 64 samples).
inline PreparedJob TinyJob(int epochs, int samples = 64, std::string name = "tiny") {
  PreparedJob job;
  job.spec.set_name(name);
  job.spec.mutable_training()->set_epochs(epochs);
  job.spec.mutable_training()->set_batch_size(16);
  LayerSpec hidden;
  hidden.units = 8;
  job.train_spec.model.hidden_layers = {hidden};
  job.train_spec.loss.kind = LossKind::kMeanSquaredError;
  job.train_spec.optimizer.kind = OptimizerKind::kAdam;
  job.train_spec.training.epochs = epochs;
  job.train_spec.training.batch_size = 16;
  job.train_spec.training.seed = 3;
  BuiltinOptions data;
  data.samples = samples;
  data.seed = 7;
  absl::StatusOr<Dataset> dataset = MakeBuiltinDataset("house_prices", data);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  if (dataset.ok()) job.dataset = *std::move(dataset);
  return job;
}

// A job that trains until cancelled (a million epochs of 4 steps).
inline PreparedJob EndlessJob(std::string name = "endless") {
  return TinyJob(1'000'000, 64, std::move(name));
}

// Everything the listener heard, for assertions after the fact.
class RecordingListener : public JobEventListener {
 public:
  struct StateChange {
    std::string job_id;
    v1::JobState from;
    v1::JobState to;
  };

  void OnSubmitted(const JobLabels& job) override {
    absl::MutexLock lock(&mu_);
    submitted_.push_back(job.id);
  }
  void OnStateChange(const JobLabels& job, v1::JobState from, v1::JobState to,
                     absl::Duration time_in_from) override {
    absl::MutexLock lock(&mu_);
    EXPECT_GE(time_in_from, absl::ZeroDuration());
    changes_.push_back({job.id, from, to});
  }
  void OnStep(const JobLabels& job, int64_t step, double /*loss*/, int examples,
              absl::Duration step_time, double steps_per_second) override {
    absl::MutexLock lock(&mu_);
    EXPECT_GE(examples, 1);
    EXPECT_GE(step_time, absl::ZeroDuration());
    EXPECT_GE(steps_per_second, 0.0);
    int64_t& last = last_step_[job.id];
    EXPECT_EQ(step, last + 1) << "steps of " << job.id << " out of order";
    last = step;
    ++steps_;
    examples_ += examples;
  }
  void OnWatchersChanged(int delta) override {
    absl::MutexLock lock(&mu_);
    watchers_ += delta;
    watchers_opened_ += delta > 0 ? delta : 0;
  }
  void OnLossPointsSent(int64_t points) override {
    absl::MutexLock lock(&mu_);
    points_sent_ += points;
  }
  void OnWatcherFellBehind() override {
    absl::MutexLock lock(&mu_);
    ++fell_behind_;
  }
  void OnClusterJobs(const std::vector<ClusterJobCount>& counts) override {
    absl::MutexLock lock(&mu_);
    cluster_ = counts;
  }

  std::vector<std::string> submitted() const {
    absl::MutexLock lock(&mu_);
    return submitted_;
  }
  std::vector<StateChange> changes() const {
    absl::MutexLock lock(&mu_);
    return changes_;
  }
  int64_t steps() const {
    absl::MutexLock lock(&mu_);
    return steps_;
  }
  int64_t examples() const {
    absl::MutexLock lock(&mu_);
    return examples_;
  }
  int watchers() const {
    absl::MutexLock lock(&mu_);
    return watchers_;
  }
  int watchers_opened() const {
    absl::MutexLock lock(&mu_);
    return watchers_opened_;
  }
  int64_t points_sent() const {
    absl::MutexLock lock(&mu_);
    return points_sent_;
  }
  int fell_behind() const {
    absl::MutexLock lock(&mu_);
    return fell_behind_;
  }
  // The last OnClusterJobs' counts of jobs in `state` on `runner`; nullopt before the first.
  std::optional<int64_t> cluster_jobs(v1::JobState state, const std::string& runner) const {
    absl::MutexLock lock(&mu_);
    if (!cluster_) return std::nullopt;
    int64_t jobs = 0;
    for (const ClusterJobCount& count : *cluster_) {
      if (count.state == state && count.runner == runner) jobs += count.jobs;
    }
    return jobs;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> submitted_ ABSL_GUARDED_BY(mu_);
  std::vector<StateChange> changes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> last_step_ ABSL_GUARDED_BY(mu_);
  int64_t steps_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t examples_ ABSL_GUARDED_BY(mu_) = 0;
  int watchers_ ABSL_GUARDED_BY(mu_) = 0;
  int watchers_opened_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t points_sent_ ABSL_GUARDED_BY(mu_) = 0;
  int fell_behind_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<std::vector<ClusterJobCount>> cluster_ ABSL_GUARDED_BY(mu_);
};

// Watches until the stream ends; returns every message received.
inline std::vector<v1::WatchJobResponse> WatchAll(JobManager& manager, const std::string& id,
                                                  int64_t after_step = 0) {
  std::vector<v1::WatchJobResponse> messages;
  absl::Status status = manager.Watch(id, after_step, [&](const v1::WatchJobResponse& message) {
    messages.push_back(message);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return messages;
}

// The job once it has ended (its stream's terminal event).
inline v1::Job WaitUntilDone(JobManager& manager, const std::string& id) {
  std::vector<v1::WatchJobResponse> messages = WatchAll(manager, id);
  if (messages.empty() || !messages.back().has_state()) {
    ADD_FAILURE() << "the watch of " << id << " did not end with a state event";
    return v1::Job();
  }
  return messages.back().state().job();
}

// Returns once the job has recorded at least `step` steps (it stops watching then).
inline void WaitForStep(JobManager& manager, const std::string& id, int64_t step) {
  absl::Status status = manager.Watch(id, 0, [&](const v1::WatchJobResponse& message) {
    return !(message.has_losses() &&
             message.losses().first_step() + message.losses().losses_size() - 1 >= step);
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << "job ended before step " << step;
}

// What a watcher saw, checked for the stream's invariants: steps first_step.. exactly once
// and in order, each epoch summary right after its last step, a terminal state event last.
struct StreamSummary {
  std::vector<double> losses;  // losses[i] is step first_step + i
  int64_t first_step = 1;
  std::vector<int> epochs;
  std::vector<v1::JobState> states;
  std::vector<int64_t> resumed_at;  // Resumed events' steps
  int heartbeats = 0;
};

inline StreamSummary CheckStream(const std::vector<v1::WatchJobResponse>& messages,
                                 int64_t after_step, int max_points_per_message) {
  StreamSummary summary;
  summary.first_step = after_step + 1;
  int64_t next_step = after_step + 1;
  for (size_t i = 0; i < messages.size(); ++i) {
    const v1::WatchJobResponse& message = messages[i];
    switch (message.event_case()) {
      case v1::WatchJobResponse::kLosses:
        EXPECT_EQ(message.losses().first_step(), next_step) << "message " << i;
        EXPECT_GE(message.losses().losses_size(), 1);
        EXPECT_LE(message.losses().losses_size(), max_points_per_message);
        for (double loss : message.losses().losses()) summary.losses.push_back(loss);
        next_step += message.losses().losses_size();
        break;
      case v1::WatchJobResponse::kEpoch:
        EXPECT_EQ(message.epoch().last_step(), next_step - 1)
            << "epoch " << message.epoch().epoch() << " is not right after its last step";
        summary.epochs.push_back(message.epoch().epoch());
        break;
      case v1::WatchJobResponse::kState:
        EXPECT_EQ(message.state().state(), message.state().job().state());
        EXPECT_TRUE(message.state().job().has_spec());
        summary.states.push_back(message.state().state());
        break;
      case v1::WatchJobResponse::kHeartbeat:
        ++summary.heartbeats;
        break;
      case v1::WatchJobResponse::kResumed:
        EXPECT_EQ(message.resumed().step(), next_step - 1)
            << "the resumption is not right after its step";
        summary.resumed_at.push_back(message.resumed().step());
        break;
      case v1::WatchJobResponse::EVENT_NOT_SET:
        ADD_FAILURE() << "message " << i << " is empty";
        break;
    }
  }
  EXPECT_FALSE(messages.empty());
  if (!messages.empty()) {
    const v1::WatchJobResponse& last = messages.back();
    EXPECT_TRUE(last.has_state()) << "the stream did not end with a state event";
    if (last.has_state() && after_step <= last.state().job().progress().step()) {
      EXPECT_EQ(last.state().job().progress().step(), next_step - 1)
          << "the terminal event came before every step was sent";
    }
  }
  return summary;
}

}  // namespace descent::server::testing

#endif  // DESCENT_TESTS_SERVER_JOB_TEST_HELPERS_H_
