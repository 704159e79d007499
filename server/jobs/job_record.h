// One job: its immutable submission, its mutable state (guarded by the record's own mutex)
// and its history. The job manager's worker thread drives the transitions and the training
// thread appends steps; Get/List/Cancel read snapshots; watchers read the history with their
// own cursor and sleep on the record's condition variable, which training signals rarely
// (see WakeWatchers), never once per step.
//
// With a JobStore, the record also writes itself through: each write is one transaction
// holding the row as it is then and everything recorded since the previous write (losses,
// epoch summaries, state changes). Transitions are written before anyone can see them (the
// write happens under the record's mutex); steps are written in batches with checkpoints,
// so a restart resumes from the last checkpoint and retrains the steps after it. Once
// written, history leaves memory: the record keeps the steps since its last write (at most
// one checkpoint interval) and the events at or after them, and a watcher whose cursor is
// before that reads the rest from the store (ReadResult::kBehind).
#ifndef DESCENT_SERVER_JOBS_JOB_RECORD_H_
#define DESCENT_SERVER_JOBS_JOB_RECORD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "engine/diagnosis.h"
#include "engine/lr_finder.h"
#include "engine/network.h"
#include "engine/train_spec.h"
#include "engine/trainer.h"
#include "proto/job_state.h"
#include "server/conversion/prepared_job.h"
#include "server/conversion/trained_model.h"
#include "server/jobs/job_events.h"
#include "server/jobs/loss_history.h"
#include "server/store/job_store.h"

namespace descent::server {

// FAILED_PRECONDITION for the model of a job in `state` (not SUCCEEDED), with its `error`.
absl::Status NoModelError(const std::string& id, v1::JobState state, const std::string& error);
// FAILED_PRECONDITION for the model of a range test (spec.lr_find), which keeps none.
absl::Status RangeTestModelError(const std::string& id);

// What a worker needs to train the job; handed over once, then released by the record.
struct TrainingInput {
  TrainSpec train_spec;
  Dataset dataset;
  std::optional<std::vector<LayerParameters>> initial_parameters;
  // A job that was RUNNING when the server stopped continues from its checkpoint (from step
  // 0 without one), after a Resumed event.
  bool resumed = false;
  std::optional<TrainerCheckpoint> checkpoint;
  // A range test (spec.lr_find): train_spec is LrFindTrainSpec's, and the run is RunLrFind.
  std::optional<LrFindSpec> lr_find;
};

// What ReadOrWait found.
enum class ReadResult {
  kRead,       // messages were appended
  kTimedOut,   // nothing new before the deadline
  kSuspended,  // nothing new, and the job will not move on in this process (server stopping)
  kBehind,     // the cursor is before what the record holds: read on from the store
};

// How a run ended, for JobRecord::Finish.
struct JobOutcome {
  static JobOutcome Succeeded(Diagnosis diagnosis, std::shared_ptr<const TrainedModel> model);
  static JobOutcome Failed(std::string error, std::optional<Diagnosis> diagnosis = std::nullopt);
  static JobOutcome Cancelled(std::optional<Diagnosis> diagnosis = std::nullopt);
  // A range test that suggested a rate: SUCCEEDED without a model or a diagnosis.
  static JobOutcome RangeTested(v1::LrFindResult result);

  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // SUCCEEDED, FAILED or CANCELLED
  std::string error;                               // FAILED only
  std::optional<Diagnosis> diagnosis;
  std::shared_ptr<const TrainedModel> model;  // SUCCEEDED only
  std::optional<v1::LrFindResult> lr_find;    // a range test's, SUCCEEDED only
};

class JobRecord {
 public:
  // A QUEUED job; `sequence` orders jobs by submission (List pages by it). `store` (may be
  // null) must outlive the record; the job is not in it until Insert().
  JobRecord(std::string id, int64_t sequence, PreparedJob job, absl::Time create_time,
            JobStore* store = nullptr);
  // An unfinished (QUEUED or RUNNING) job loaded from `store` as stored in `stored`, its
  // history starting with `window` (the store's page at the position it continues from:
  // the checkpoint's step of a RUNNING job, after truncation) and `last_loss` the loss of
  // that step, if any. A QUEUED or RUNNING one needs its training input
  // (SetTrainingInput) before a worker takes it.
  static std::unique_ptr<JobRecord> FromStore(const StoredJob& stored, LossHistory window,
                                              std::optional<double> last_loss, JobStore* store);
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
  // Writes the new job (row, spec, QUEUED event) to the store; OK without a store. Store
  // errors as JobStore::Insert (RESOURCE_EXHAUSTED for a full disk, UNAVAILABLE otherwise).
  absl::Status Insert() ABSL_LOCKS_EXCLUDED(mu_);
  // QUEUED -> RUNNING (CHECK-fails from any other state). The job is RUNNING even when
  // writing that to the store fails; the error is returned so the caller can fail the job.
  absl::Status Start(absl::Time now, JobEventListener* listener) ABSL_LOCKS_EXCLUDED(mu_);
  // QUEUED or RUNNING -> outcome.state, a terminal state (CHECK-fails otherwise). Records the
  // results and the terminal event, releases the training input, wakes every watcher. With
  // a store, the terminal row, the remaining losses and the model are written first; when
  // that fails a SUCCEEDED outcome becomes FAILED naming the store error (the model could
  // not be kept), and that is written if the store allows. When the store refuses it for a
  // lost lease, the job stays as it was (another replica runs it now), marked suspended.
  void Finish(JobOutcome outcome, absl::Time now, JobEventListener* listener)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The replica about to run the job (Job.runner, JobManagerOptions::runner), shown from now
  // on and stored with the job's next write.
  void SetRunner(std::string runner) ABSL_LOCKS_EXCLUDED(mu_);

  // For a job loaded from the store: the input its next run trains from, and the epoch gate
  // (PreparedJob::epoch_gate, may be null) its preparation gave it. Before a worker takes it.
  void SetTrainingInput(TrainingInput input,
                        std::function<bool(const v1::EpochSummary&)> epoch_gate = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The training input, exactly once per SetTrainingInput or construction (CHECK-fails
  // otherwise).
  TrainingInput TakeTrainingInput() ABSL_LOCKS_EXCLUDED(mu_);

  bool durable() const { return store_ != nullptr; }
  JobStore* store() const { return store_; }
  // Whether the store holds everything recorded (true after a successful terminal write):
  // the record can then be dropped and the job served from the store alone.
  bool FullyStored() const ABSL_LOCKS_EXCLUDED(mu_);
  // Training thread, RUNNING: writes `checkpoint` (store_conversion.h) with every loss and
  // event recorded since the previous write, in one transaction. OK without a store; store
  // errors as JobStore::Write.
  absl::Status SaveCheckpoint(store::v1::Checkpoint checkpoint) ABSL_LOCKS_EXCLUDED(mu_);
  // Training thread, RUNNING: writes every loss and event recorded since the previous write
  // and the row as it is now, without a checkpoint (a restart still resumes from the last
  // checkpoint, and the steps after it are written again). OK without a store; store errors
  // as JobStore::Write, and what was not written stays for the next write.
  absl::Status SaveProgress() ABSL_LOCKS_EXCLUDED(mu_);
  // Training thread: a resumed run continues after the steps in the history; records the
  // Resumed event there.
  void RecordResumed() ABSL_LOCKS_EXCLUDED(mu_);
  // For a watch from `after_step` of a job this process resumed at an earlier step: that
  // Resumed event, which the watch's cursor would skip.
  std::optional<v1::WatchJobResponse> ResumedBefore(int64_t after_step) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The step this process resumed the job at, if it did.
  std::optional<int64_t> resumed_at() const ABSL_LOCKS_EXCLUDED(mu_);

  // Training thread only, while RUNNING.
  void SetTotalSteps(int64_t total_steps) ABSL_LOCKS_EXCLUDED(mu_);
  // Appends the losses of consecutive steps from `first_step` on, the last of them in
  // `epoch` (steps arrive numbered 1, 2, ...: first_step must follow the steps recorded, or
  // this CHECK-fails). The caller gathers steps and hands them over in batches, so a step
  // costs no lock; Get and List see the steps handed over. Does not wake watchers: the
  // caller batches wake-ups with WakeWatchers().
  void RecordSteps(int64_t first_step, absl::Span<const double> losses, int epoch)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Appends an epoch summary after its last step. Like RecordSteps, does not wake watchers
  // (epochs can be a couple of steps long).
  // Then asks the job's epoch gate (PreparedJob::epoch_gate), if it has one, and cancels the
  // job when the gate says no.
  void RecordEpoch(const EpochSummary& summary) ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes watchers waiting for new history: they read what was recorded since their last
  // read. Counted (wake_ups), as is every state change.
  void WakeWatchers() ABSL_LOCKS_EXCLUDED(mu_);

  // Asks a running job to stop before its next step. Lock-free: the training thread polls it
  // every step.
  void RequestCancel() { cancel_requested_.store(true, std::memory_order_relaxed); }
  bool cancel_requested() const { return cancel_requested_.load(std::memory_order_relaxed); }
  // Asks a running job to checkpoint and stop without ending (the server is stopping; it
  // resumes at the next start). Polled like cancellation, which wins when both are asked.
  void RequestSuspend() { suspend_requested_.store(true, std::memory_order_relaxed); }
  bool suspend_requested() const { return suspend_requested_.load(std::memory_order_relaxed); }
  bool stop_requested() const {
    return cancel_requested() || suspend_requested() || lease_lost();
  }

  // With a shared store (JobStore::shared): the lease this process holds on the job; every
  // write carries its token. A write the store refuses for a lost lease (or LoseLease, when a
  // renewal finds it lost) stops the job here: training stops before its next step, nothing
  // more is written, and the job is left to the replica that claimed it.
  void SetLease(int64_t token) ABSL_LOCKS_EXCLUDED(mu_);
  int64_t lease_token() const ABSL_LOCKS_EXCLUDED(mu_);
  void LoseLease() { lease_lost_.store(true, std::memory_order_relaxed); }
  bool lease_lost() const { return lease_lost_.load(std::memory_order_relaxed); }
  // The job stays unfinished in this process: watchers that have read everything end
  // (ReadResult::kSuspended) instead of waiting.
  void MarkSuspended() ABSL_LOCKS_EXCLUDED(mu_);
  // As MarkSuspended, for a job another replica took over (it claimed the job while it was
  // queued here, or this replica lost its lease): its watchers here go on following it in
  // the shared store (handed_over()) instead of ending.
  void MarkHandedOver() ABSL_LOCKS_EXCLUDED(mu_);
  bool handed_over() const ABSL_LOCKS_EXCLUDED(mu_);

  // The trained model of a SUCCEEDED job; FAILED_PRECONDITION naming the state otherwise,
  // or saying that a range test keeps no model.
  absl::StatusOr<TrainedModel> Model() const ABSL_LOCKS_EXCLUDED(mu_);

  // For watchers. A cursor placed after `after_step` (see LossHistory::Cursor::After).
  LossHistory::Cursor WatchCursor(int64_t after_step) const ABSL_LOCKS_EXCLUDED(mu_);

  // Appends to *messages what `cursor` reads next, in order: events (a state event's Job
  // with the spec filled in) and losses batched up to `max_points` per message, at most
  // `max_messages` messages and `max_points` losses in all, so the lock is held briefly.
  // Reads (kRead) once there is something and watchers were woken since the caller's
  // previous read that reached the end of the history (*wake_ups_read: 0 before the first,
  // updated by every read that reads everything recorded), or there are
  // `max_points` steps to read, or `deadline` has passed; otherwise waits. kTimedOut when
  // `deadline` passes with nothing to read, kSuspended when the job is suspended with nothing
  // left to read; kBehind at once when the cursor is before the steps the record holds.
  // *messages is untouched but for kRead. *steps_recorded receives the number of steps in
  // the history at that moment.
  // Why wait for a wake-up: a watcher that read again as soon as it had sent found the few
  // steps recorded while it sent and sent them at once, so on a tiny job (~300k steps/s)
  // it never slept and sent messages of tens of points, each a write, a read and several
  // thread wake-ups in gRPC; after training's batched wake-ups it sends ~1024 at a time.
  ReadResult ReadOrWait(LossHistory::Cursor* cursor, int max_points, int max_messages,
                        absl::Time deadline, uint64_t* wake_ups_read,
                        std::vector<v1::WatchJobResponse>* messages, int64_t* steps_recorded) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  JobRecord(std::string id, int64_t sequence, const v1::JobSpec& spec, std::string request_id,
            absl::Time create_time, int total_epochs, JobStore* store);
  v1::Job SnapshotLocked(absl::Time now, bool include_spec) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The current state as a state event.
  v1::WatchJobResponse StateEventLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `event` in the history and wakes watchers.
  void AppendEventLocked(v1::WatchJobResponse event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes every watcher and counts the wake-up.
  void WakeWatchersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The write of everything recorded since the previous one, then `next_event` (may be
  // null: an event about to be recorded).
  JobWrite PendingWriteLocked(const v1::WatchJobResponse* next_event) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `write` (from PendingWriteLocked) and marks what it held as stored.
  absl::Status WriteLocked(const JobWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves to `to`, telling `listener` how long the job was in the state it leaves.
  void TransitionLocked(v1::JobState to, absl::Time now, JobEventListener* listener)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t sequence_;
  const JobLabels labels_;
  const v1::JobSpec spec_;
  const std::string request_id_;
  const absl::Time create_time_;
  const int total_epochs_;
  JobStore* const store_;  // may be null
  std::atomic<bool> cancel_requested_{false};
  // Set at construction (or with the training input of a job loaded from the store), called
  // by the training thread only (RecordEpoch).
  std::function<bool(const v1::EpochSummary&)> epoch_gate_;
  std::atomic<bool> suspend_requested_{false};
  std::atomic<bool> lease_lost_{false};

  mutable absl::Mutex mu_;
  // Signalled when history_ has grown (batched by the training thread) and on every state
  // change. Watchers wait on it with a deadline for their heartbeat.
  mutable absl::CondVar changed_;
  // Wake-ups of watchers so far (WakeWatchers, state changes): a watcher reads again only
  // after one it has not read after (see ReadOrWait). Starts at 1, so that a watcher's first
  // read (after 0) takes what is there at once.
  uint64_t wake_ups_ ABSL_GUARDED_BY(mu_) = 1;
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
  std::optional<v1::LrFindResult> lr_find_ ABSL_GUARDED_BY(mu_);
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::string runner_ ABSL_GUARDED_BY(mu_);
  int64_t lease_token_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const TrainedModel> model_ ABSL_GUARDED_BY(mu_);
  LossHistory history_ ABSL_GUARDED_BY(mu_);
  bool suspended_ ABSL_GUARDED_BY(mu_) = false;
  bool handed_over_ ABSL_GUARDED_BY(mu_) = false;
  int64_t resumed_at_ ABSL_GUARDED_BY(mu_) = -1;  // the step this process resumed at
  // What the store holds of history_: the first steps and events.
  int64_t stored_steps_ ABSL_GUARDED_BY(mu_) = 0;
  size_t stored_events_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_RECORD_H_
