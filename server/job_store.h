// Durable job state: one SQLite database (<data-dir>/descent.db) holding every job's row
// (spec, state, timestamps, results), its loss history in chunks, its events (state
// changes, epoch summaries, resumptions), the latest trainer checkpoint of a running job
// and the model of a SUCCEEDED one. Every write is one transaction, so what a reopened store
// shows is always a state the server was in: a checkpoint and the losses up to its step
// land together, never one without the other.
//
// The database is opened in exclusive locking mode: a second descentd on the same data dir
// fails at start instead of interleaving writes. Thread-safe (one connection, one mutex).
#ifndef DESCENT_SERVER_JOB_STORE_H_
#define DESCENT_SERVER_JOB_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "descent/v1/training.pb.h"

struct sqlite3;

namespace descent::server {

// An event of a job's history, placed after `after_step` steps (see LossHistory).
struct StoredEvent {
  int64_t after_step = 0;
  v1::WatchJobResponse message;  // a state change, an epoch summary or a resumption
};

// What one transaction writes for a job.
struct JobWrite {
  int64_t sequence = 0;  // the job's submission sequence (its key)
  v1::Job job;           // the job row as of this write, without the spec
  // Losses of steps first_step, first_step + 1, ...; any stored loss at or after first_step
  // is replaced.
  int64_t first_step = 1;
  std::vector<double> losses;
  std::vector<StoredEvent> events;  // appended after the stored ones
  std::optional<std::string> checkpoint;  // replaces the stored checkpoint
  bool clear_checkpoint = false;          // drops it (a job that ended needs none)
  std::optional<std::string> model;       // a SUCCEEDED job's model (checkpoint_codec.h)
};

// A job as stored, for the job manager to rebuild its records at start-up.
struct StoredJob {
  int64_t sequence = 0;
  v1::JobSpec spec;  // as echoed to clients (dataset.resolved filled in)
  v1::Job job;       // without the spec
  std::vector<double> losses;       // steps 1, 2, ...
  std::vector<StoredEvent> events;  // in the order they were written
  std::optional<std::string> checkpoint;
  std::optional<std::string> model;
};

class JobStore {
 public:
  // Opens or creates the database at `path` (its directory must exist), in WAL mode.
  // UNAVAILABLE naming the path when it cannot be opened or written, or when another
  // process holds it; DATA_LOSS when it is not a descent store or fails its quick check.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  const std::string& path() const { return path_; }

  // Adds a job: its spec and row, with `write`'s events. ALREADY_EXISTS for a sequence or
  // id that is stored already. Write errors as for Write().
  absl::Status Insert(const v1::JobSpec& spec, const JobWrite& write) ABSL_LOCKS_EXCLUDED(mu_);

  // Updates a stored job in one transaction (row, losses, events, checkpoint, model).
  // RESOURCE_EXHAUSTED when the disk is full, UNAVAILABLE for another write error, both
  // naming the database path; the store is unchanged then. NOT_FOUND for an unknown sequence.
  absl::Status Write(const JobWrite& write) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops the losses after `step` and the epoch summaries of epochs after `epochs`, so a job
  // resumed from a checkpoint at that position records them again exactly once.
  absl::Status TruncateAfter(int64_t sequence, int64_t step, int epochs) ABSL_LOCKS_EXCLUDED(mu_);

  // Every stored job in sequence order. DATA_LOSS naming the job for a row that cannot be
  // parsed.
  absl::StatusOr<std::vector<StoredJob>> LoadAll() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  JobStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  int WriteLocked(const JobWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // an SQLite code
  // Runs `body` inside BEGIN IMMEDIATE .. COMMIT, rolling back when it or the commit fails.
  template <typename Body>
  absl::Status InTransaction(Body body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOB_STORE_H_
