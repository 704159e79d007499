// Durable job state, behind one interface with two implementations: SQLite in one file under
// --data-dir (sqlite_job_store.h, the embedded default) and PostgreSQL
// (postgres/postgres_job_store.h, shared by several descentd replicas). A store holds every
// job's row (spec, state, timestamps, results), its loss history in chunks, its events (state
// changes, epoch summaries, resumptions), the latest trainer checkpoint of a running job and
// the model of a SUCCEEDED one, as the store's own messages
// (proto/descent/store/v1/store.proto). Every write is one transaction, so what a reopened
// store shows is always a state the server was in: a checkpoint and the losses up to its step
// land together, never one without the other. Implementations are thread-safe.
#ifndef DESCENT_SERVER_STORE_JOB_STORE_H_
#define DESCENT_SERVER_STORE_JOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "descent/store/v1/store.pb.h"
#include "descent/v1/training.pb.h"

namespace descent::server {

class SweepStore;

// An event of a job's history, placed after `after_step` steps (see LossHistory).
struct StoredEvent {
  int64_t after_step = 0;
  v1::WatchJobResponse message;  // a state change, an epoch summary or a resumption
};

// What one transaction writes for a job.
struct JobWrite {
  int64_t sequence = 0;  // the job's submission sequence (its key)
  // A shared store (JobStore::shared) writes only while the job's lease still has this
  // fencing token (0: a job no replica claimed yet), and fails with a lease-lost error
  // (IsLeaseLost) otherwise, writing nothing. Other stores ignore it.
  int64_t lease_token = 0;
  v1::Job job;           // the job row as of this write, without the spec
  // Losses of steps first_step, first_step + 1, ...; any stored loss at or after first_step
  // is replaced.
  int64_t first_step = 1;
  std::vector<double> losses;
  std::vector<StoredEvent> events;  // appended after the stored ones
  std::optional<store::v1::Checkpoint> checkpoint;  // replaces the stored checkpoint
  bool clear_checkpoint = false;  // drops it (a job that ended needs none)
  std::optional<store::v1::Model> model;  // a SUCCEEDED job's model
};

// A job's row as stored, for the job manager to rebuild an unfinished job's record at
// start-up and to serve a finished one.
struct StoredJob {
  int64_t sequence = 0;
  v1::JobSpec spec;  // as echoed to clients (dataset.resolved filled in)
  v1::Job job;       // without the spec
  std::optional<store::v1::Checkpoint> checkpoint;
  int64_t stored_steps = 0;  // losses stored: steps 1 .. stored_steps
};

// A page of a job's stored history (JobStore::ReadHistory), after `after_step` steps.
struct StoredHistory {
  int64_t after_step = 0;
  std::vector<double> losses;  // of steps after_step + 1, after_step + 2, ...
  // Events placed from after_step through the page's last step, in the order written.
  std::vector<StoredEvent> events;
};

// What the job manager keeps in memory of every stored job (a few dozen bytes).
struct StoredJobSummary {
  int64_t sequence = 0;
  std::string id;
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  std::string request_id;
  absl::Time end_time = absl::InfinitePast();  // finished jobs only
};

// A replica's claim on a job of a shared store (JobStore::Claim): the job's sequence, its
// state when claimed (QUEUED: to start; RUNNING: to resume from its checkpoint, its last
// runner having stopped renewing) and the fencing token every write for it must carry.
// Tokens only grow: a later claim of the job gets a greater one.
struct Lease {
  int64_t sequence = 0;
  int64_t token = 0;
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  bool cancel_requested = false;  // JobStore::RequestCancel was called for the job
};

// Who claims: the replica as clients reach it (Job.runner) and this process among the ones
// that ever ran at that address, and how long a lease lasts unless renewed.
struct LeaseHolder {
  std::string runner;
  int64_t instance = 0;  // random per process
  absl::Duration timeout = absl::Seconds(30);
};

// How many unfinished jobs of a shared store are in one state on one replica
// (JobStore::CountUnfinished).
struct UnfinishedJobs {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // QUEUED or RUNNING
  std::string runner;  // Job.runner of the last claim; empty for a job never claimed
  int64_t jobs = 0;
};

// The error of a write, renewal or truncation refused because the job's lease moved on
// (another replica claimed the job): ABORTED, naming the job.
absl::Status LeaseLostError(int64_t sequence);
bool IsLeaseLost(const absl::Status& status);

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Where the store lives, for messages: the SQLite file's path, or the PostgreSQL URL
  // without its password.
  virtual const std::string& location() const = 0;

  // Adds a job: its spec and row, with `write`'s events, durably (it survives a power cut once
  // this returns). ALREADY_EXISTS for a sequence or id that is stored already. Write errors
  // as for Write().
  virtual absl::Status Insert(const v1::JobSpec& spec, const JobWrite& write) = 0;

  // Updates a stored job in one transaction (row, losses, events, checkpoint, model).
  // RESOURCE_EXHAUSTED when the disk is full, UNAVAILABLE for another write error (or a lost
  // connection), both naming the store; the store is unchanged then. NOT_FOUND for an unknown
  // sequence.
  virtual absl::Status Write(const JobWrite& write) = 0;

  // Drops the losses after `step` and the epoch summaries of epochs after `epochs`, so a job
  // resumed from a checkpoint at that position records them again exactly once. Fenced by
  // `lease_token` as Write is.
  virtual absl::Status TruncateAfter(int64_t sequence, int64_t step, int epochs,
                                     int64_t lease_token) = 0;

  // Every stored job's summary in sequence order, parsed from the rows alone (no history, no
  // model, no checkpoint is read). DATA_LOSS naming the job for a row that cannot be parsed.
  virtual absl::StatusOr<std::vector<StoredJobSummary>> LoadSummaries() const = 0;

  // One job's row, spec and checkpoint. NOT_FOUND for a sequence that is not stored (never
  // was, or was deleted); DATA_LOSS for a row that cannot be parsed.
  virtual absl::StatusOr<StoredJob> ReadJob(int64_t sequence) const = 0;
  // ReadJob that may leave the checkpoint out (the PostgreSQL store does): what Get, List and
  // Watch need of a job, a small part of ReadJob's bytes for a large running job.
  virtual absl::StatusOr<StoredJob> ReadJobRow(int64_t sequence) const {
    return ReadJob(sequence);
  }
  // The sequence of the job with this id; NOT_FOUND when there is none.
  virtual absl::StatusOr<int64_t> FindSequence(const std::string& id) const = 0;
  // A SUCCEEDED job's model; NOT_FOUND without one, DATA_LOSS when it does not parse.
  virtual absl::StatusOr<store::v1::Model> ReadModel(int64_t sequence) const = 0;
  // The stored epoch summaries of epochs 1 .. up_to_epoch, in order (a resumed trainer's
  // early-stopping and diagnosis state).
  virtual absl::StatusOr<std::vector<v1::EpochSummary>> ReadEpochs(int64_t sequence,
                                                                   int up_to_epoch) const = 0;

  // One page of a job's history: after `after_step` steps, the stored losses of steps
  // after_step + 1 .. after_step + max_steps (fewer at the end of what is stored; whole
  // stored chunks may add up to kMaxStepsPerChunk more) and every
  // stored event placed from after_step through the page's last step. An empty page (no
  // step, no event) means nothing is stored there: the end of a finished job's history, or
  // a job that was deleted. DATA_LOSS for a malformed chunk or event.
  virtual absl::StatusOr<StoredHistory> ReadHistory(int64_t sequence, int64_t after_step,
                                                    int64_t max_steps) const = 0;

  // Deletes the jobs with these sequences and everything stored for them (row, spec,
  // history, checkpoint, model), in one transaction. Write errors as for Write().
  virtual absl::Status Delete(const std::vector<int64_t>& sequences) = 0;

  // The sweeps kept in the same database (sweep_store.h); null for a store without them. Lives
  // as long as the store.
  virtual SweepStore* sweeps() { return nullptr; }

  // Leases, for stores several descentd share (PostgreSQL). A replica trains only the jobs it
  // claimed, renews their leases while it trains them, and every write it makes for one
  // carries the lease's token (JobWrite::lease_token), so a replica that lost a lease can
  // no longer write for that job. The SQLite store has one process: it is not shared, and
  // its jobs are claimed by the process that holds the file (these answer UNIMPLEMENTED).
  virtual bool shared() const { return false; }
  // Claims the first claimable job (one whose lease expired or that never had one, and one
  // that an earlier process at holder.runner held, which is gone) in one atomic update:
  // RUNNING jobs to resume first, then QUEUED ones by sequence; only job `only` when set,
  // which this process may also take over from itself (the token grows: the earlier claim's
  // writes are refused). nullopt when there is none. Store errors as for Write.
  virtual absl::StatusOr<std::optional<Lease>> Claim(const LeaseHolder& /*holder*/,
                                                     std::optional<int64_t> /*only*/) {
    return absl::UnimplementedError("this job store is not shared; it has no leases");
  }
  // A page of the stored jobs' summaries, newest first: those with a sequence below
  // `before`, in `state` (any state for JOB_STATE_UNSPECIFIED), at most `limit`. For the
  // listing of a shared store, whose jobs other replicas add and move on. Store errors as for
  // Write.
  virtual absl::StatusOr<std::vector<StoredJobSummary>> ListSummaries(v1::JobState /*state*/,
                                                                      int64_t /*before*/,
                                                                      int /*limit*/) const {
    return absl::UnimplementedError("this job store is not shared; its jobs are in memory");
  }
  // The job that was submitted with this (non-empty) request_id, by any replica; nullopt
  // when there is none. Insert refuses a second job with the same request_id (ALREADY_EXISTS),
  // so two replicas given the same request at once keep one job. Store errors as for Write.
  virtual absl::StatusOr<std::optional<int64_t>> FindRequest(
      const std::string& /*request_id*/) const {
    return absl::UnimplementedError("this job store is not shared; its one process knows");
  }
  // The unfinished jobs by state and runner, for limits and gauges across the replicas.
  // Store errors as for Write.
  virtual absl::StatusOr<std::vector<UnfinishedJobs>> CountUnfinished() const {
    return absl::UnimplementedError("this job store is not shared; its one process knows");
  }
  // A sequence for a new job, greater than every sequence handed out before (to any replica).
  virtual absl::StatusOr<int64_t> NextSequence() {
    return absl::UnimplementedError("this job store is not shared; its one process numbers jobs");
  }
  // Extends the lease to `timeout` from now; true when a cancel of the job was requested
  // (RequestCancel). Lease-lost (IsLeaseLost) when the job was claimed by someone else since
  // (or deleted).
  virtual absl::StatusOr<bool> RenewLease(int64_t /*sequence*/, int64_t /*token*/,
                                          absl::Duration /*timeout*/) {
    return absl::UnimplementedError("this job store is not shared; it has no leases");
  }
  // Records a cancel of unfinished job `sequence` for the replica that trains it, whichever
  // that is: the holder of its lease hears of it at once (SetCancelHandler) or at its next
  // renewal, and a replica that claims the job later cancels it instead of training it.
  // The job's state, which is terminal (and nothing was recorded) when it had ended already.
  // NOT_FOUND for a job that is not stored; store errors as for Write.
  virtual absl::StatusOr<v1::JobState> RequestCancel(int64_t /*sequence*/) {
    return absl::UnimplementedError("this job store is not shared; its one process cancels");
  }
  // Called (on a thread of the store's) with the sequence of a job whose cancel another
  // replica requested, as soon as the store hears of it; replaces the previous handler, and an
  // empty one stops the calls (returning after any call in progress). Stores without
  // notifications never call it: renewals alone carry cancels then.
  virtual void SetCancelHandler(std::function<void(int64_t)> /*handler*/) {}
  // Called (on a thread of the store's) whenever a job may have become claimable: submitted
  // on any replica, or its lease given up (ReleaseLease), or anything may have happened
  // unheard (the store's connection was lost and is back). Replaces the previous handler as
  // SetCancelHandler does. Stores without notifications never call it; leases that merely
  // expire are never announced either: idle workers look again after a while for those.
  virtual void SetClaimableHandler(std::function<void()> /*handler*/) {}

  // Notifications of a shared store's writes, so a replica that does not train a job can
  // follow its history without polling hard. ChangeMark() before reading what is stored,
  // then AwaitChange(sequence, mark, deadline) waits until a write for job `sequence` may
  // have committed since the mark (true), or until `deadline` (false; callers read the store
  // again then anyway: a notification can be lost with a dropped connection). Stores without
  // notifications wait until the deadline.
  virtual uint64_t ChangeMark() const { return 0; }
  virtual bool AwaitChange(int64_t /*sequence*/, uint64_t /*mark*/, absl::Time deadline) const {
    absl::SleepFor(deadline - absl::Now());
    return false;
  }
  // Gives the lease up (a replica stopping): the job is claimable at once. OK when it was
  // lost already.
  virtual absl::Status ReleaseLease(int64_t /*sequence*/, int64_t /*token*/) {
    return absl::UnimplementedError("this job store is not shared; it has no leases");
  }

  // Losses are stored in chunks of at most this many steps (512 KiB), so a page read never
  // loads more than that beyond what it asked for.
  static constexpr int64_t kMaxStepsPerChunk = 65536;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_JOB_STORE_H_
