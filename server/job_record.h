// One job: its immutable submission, its mutable state (guarded by the record's own mutex)
// and its history. The job manager's worker thread drives the transitions and the training
// thread appends steps; Get/List/Cancel read snapshots; watchers read the history with their
// own cursor and sleep on the record's condition variable, which training signals rarely
// (see WakeWatchers), never once per step.
#ifndef DESCENT_SERVER_JOB_RECORD_H_
#define DESCENT_SERVER_JOB_RECORD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "engine/diagnosis.h"
#include "engine/network.h"
#include "engine/train_spec.h"
#include "engine/trainer.h"
#include "server/job_events.h"
#include "server/job_manager.h"
#include "server/loss_history.h"

namespace descent::server {

bool IsTerminal(v1::JobState state);

// What a worker needs to train the job; handed over once, then released by the record.
struct TrainingInput {
  TrainSpec train_spec;
  Dataset dataset;
  std::optional<std::vector<LayerParameters>> initial_parameters;
};

// How a run ended, for JobRecord::Finish.
struct JobOutcome {
  static JobOutcome Succeeded(Diagnosis diagnosis, std::shared_ptr<const TrainedModel> model);
  static JobOutcome Failed(std::string error, std::optional<Diagnosis> diagnosis = std::nullopt);
  static JobOutcome Cancelled(std::optional<Diagnosis> diagnosis = std::nullopt);

  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // SUCCEEDED, FAILED or CANCELLED
  std::string error;                               // FAILED only
  std::optional<Diagnosis> diagnosis;
  std::shared_ptr<const TrainedModel> model;  // SUCCEEDED only
};

class JobRecord {
 public:
  // A QUEUED job; `sequence` orders jobs by submission (List pages by it).
  JobRecord(std::string id, int64_t sequence, PreparedJob job, absl::Time create_time);
  JobRecord(const JobRecord&) = delete;
  JobRecord& operator=(const JobRecord&) = delete;

  const std::string& id() const { return labels_.id; }
  int64_t sequence() const { return sequence_; }
  const JobLabels& labels() const { return labels_; }
  const v1::JobSpec& spec() const { return spec_; }
  const std::string& request_id() const { return request_id_; }

  v1::JobState state() const ABSL_LOCKS_EXCLUDED(mu_);
  // The whole Job message as of now, spec included.
  v1::Job Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

  // Transitions tell `listener` (may be null) before the new state becomes visible to
  // anyone, so observers never lag behind what clients can see.
  // QUEUED -> RUNNING (CHECK-fails from any other state).
  void Start(absl::Time now, JobEventListener* listener) ABSL_LOCKS_EXCLUDED(mu_);
  // QUEUED or RUNNING -> outcome.state, a terminal state (CHECK-fails otherwise). Records the
  // results and the terminal event, releases the training input, wakes every watcher.
  void Finish(JobOutcome outcome, absl::Time now, JobEventListener* listener)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The training input, exactly once (CHECK-fails on a second call).
  TrainingInput TakeTrainingInput() ABSL_LOCKS_EXCLUDED(mu_);

  // Training thread only, while RUNNING.
  void SetTotalSteps(int64_t total_steps) ABSL_LOCKS_EXCLUDED(mu_);
  // Appends one step's loss (steps arrive numbered 1, 2, ...; CHECK-fails otherwise). Does
  // not wake watchers: the caller batches wake-ups with WakeWatchers().
  void RecordStep(const StepEvent& event) ABSL_LOCKS_EXCLUDED(mu_);
  // Appends an epoch summary after its last step. Like RecordStep, does not wake watchers
  // (epochs can be a couple of steps long).
  void RecordEpoch(const EpochSummary& summary) ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes watchers waiting for new history.
  void WakeWatchers() { changed_.SignalAll(); }

  // Asks a running job to stop before its next step. Lock-free: the training thread polls it
  // every step.
  void RequestCancel() { cancel_requested_.store(true, std::memory_order_relaxed); }
  bool cancel_requested() const { return cancel_requested_.load(std::memory_order_relaxed); }

  // The trained model of a SUCCEEDED job; FAILED_PRECONDITION naming the state otherwise.
  absl::StatusOr<TrainedModel> Model() const ABSL_LOCKS_EXCLUDED(mu_);

  // For watchers. A cursor placed after `after_step` (see LossHistory::CursorAfter).
  LossHistory::Cursor WatchCursor(int64_t after_step) const ABSL_LOCKS_EXCLUDED(mu_);

  // Appends to *messages what `cursor` reads next, in order: events (a state event's Job
  // with the spec filled in) and losses batched up to `max_points` per message, at most
  // `max_messages` messages and `max_points` losses in all, so the lock is held briefly.
  // Waits until there is something or `deadline` passes (false, *messages untouched).
  // *steps_recorded receives the number of steps in the history at that moment.
  bool ReadOrWait(LossHistory::Cursor* cursor, int max_points, int max_messages,
                  absl::Time deadline, std::vector<v1::WatchJobResponse>* messages,
                  int64_t* steps_recorded) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  v1::Job SnapshotLocked(absl::Time now, bool include_spec) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the current state as a state event and wakes watchers.
  void AppendStateEventLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves to `to`, telling `listener` how long the job was in the state it leaves.
  void TransitionLocked(v1::JobState to, absl::Time now, JobEventListener* listener)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t sequence_;
  const JobLabels labels_;
  const v1::JobSpec spec_;
  const std::string request_id_;
  const absl::Time create_time_;
  const int total_epochs_;
  std::atomic<bool> cancel_requested_{false};

  mutable absl::Mutex mu_;
  // Signalled when history_ has grown (batched by the training thread) and on every state
  // change. Watchers wait on it with a deadline for their heartbeat.
  mutable absl::CondVar changed_;
  v1::JobState state_ ABSL_GUARDED_BY(mu_) = v1::QUEUED;
  std::optional<TrainingInput> input_ ABSL_GUARDED_BY(mu_);
  absl::Time start_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time end_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t total_steps_ ABSL_GUARDED_BY(mu_) = 0;
  int epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<double> train_loss_ ABSL_GUARDED_BY(mu_);
  std::optional<double> validation_loss_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::Metrics> train_metrics_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::Metrics> validation_metrics_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::Diagnosis> diagnosis_ ABSL_GUARDED_BY(mu_);
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TrainedModel> model_ ABSL_GUARDED_BY(mu_);
  LossHistory history_ ABSL_GUARDED_BY(mu_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOB_RECORD_H_
