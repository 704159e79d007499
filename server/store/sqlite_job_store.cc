#include "server/store/sqlite_job_store.h"

#include <sqlite3.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/store/sqlite_statement.h"
#include "server/store/sqlite_sweep_store.h"
#include "server/store/sqlite_transaction.h"
#include "server/store/store_migration.h"
#include "server/store/stored_rows.h"

namespace descent::server {
namespace {

// WAL with synchronous=NORMAL: a commit is in the WAL file (the kernel's page cache) when it
// returns, and the WAL is fsynced at each WAL checkpoint. Every committed transaction
// survives the process dying (kill -9, OOM, a crash), and the store stays consistent even
// after a power cut, which may lose the last transactions (a restart then resumes from an
// earlier checkpoint). A new job's row is the exception: Insert commits it with
// synchronous=FULL (an fsync of the WAL, ~0.25 ms on an idle local disk, tens of ms on a
// busy one), so a job SubmitJob acknowledged survives a power cut too. Checkpoints and
// state changes stay NORMAL: they are frequent, run on the training thread, and losing the
// newest of them only means training those steps again.
// Version kStoreVersion (store_migration.h); every statement IF NOT EXISTS, so that it also
// completes a migrated store.
constexpr char kSchema[] = R"sql(
-- The columns start-up reads come first, the spec (which can be large) last: a scan of the
-- small columns never reads a row's overflow pages.
CREATE TABLE IF NOT EXISTS jobs (
  sequence INTEGER PRIMARY KEY,   -- submission order; List pages by it
  id TEXT NOT NULL UNIQUE,
  state INTEGER NOT NULL,         -- descent.v1.JobState
  request_id TEXT NOT NULL,       -- the submit's idempotency key; '' without
  end_time INTEGER,               -- unix nanoseconds once the job ended, else NULL
  job BLOB NOT NULL,              -- descent.v1.Job without the spec, as of the last write
  spec BLOB NOT NULL              -- descent.v1.JobSpec as echoed to clients
);
-- Apart from the jobs row, so updating the row does not rewrite the checkpoint's pages, and
-- a scan of the jobs does not read the models.
CREATE TABLE IF NOT EXISTS checkpoints (  -- a running job's latest trainer checkpoint
  job INTEGER PRIMARY KEY,
  checkpoint BLOB NOT NULL        -- descent.store.v1.Checkpoint
);
CREATE TABLE IF NOT EXISTS models (       -- a SUCCEEDED job's model
  job INTEGER PRIMARY KEY,
  model BLOB NOT NULL             -- descent.store.v1.Model
);
CREATE TABLE IF NOT EXISTS losses (  -- consecutive steps' losses as little-endian doubles
  job INTEGER NOT NULL,
  first_step INTEGER NOT NULL,
  losses BLOB NOT NULL,
  PRIMARY KEY (job, first_step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  ordinal INTEGER PRIMARY KEY,    -- write order
  job INTEGER NOT NULL,
  after_step INTEGER NOT NULL,
  epoch INTEGER NOT NULL,         -- the summary's epoch; 0 for other events
  message BLOB NOT NULL           -- descent.v1.WatchJobResponse
);
CREATE INDEX IF NOT EXISTS events_by_job ON events (job, ordinal);
-- A page of history reads the events in a range of steps; stores written before this index
-- existed get it at their next open (the format is otherwise the same).
CREATE INDEX IF NOT EXISTS events_by_step ON events (job, after_step, ordinal);
)sql";

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int code = sqlite3_open_v2(path.c_str(), &db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (code != SQLITE_OK) {
    const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open the job store ", path, ": ", detail,
                     "; check that --data-dir is writable"));
  }
  std::unique_ptr<SqliteJobStore> store(new SqliteJobStore(path, db));
  absl::MutexLock lock(&store->mu_);
  sqlite3_extended_result_codes(db, 1);
  // Exclusive locking: the first write below takes the lock for the process's lifetime, so
  // a second descentd on this data dir fails here. WAL then needs no shared-memory file.
  // The version is read before anything is set, so a store this descentd refuses is left
  // exactly as it was.
  if (const int result = sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE", nullptr, nullptr,
                                      nullptr);
      result != SQLITE_OK) {
    return SqliteWriteError(db, result, path);
  }
  int64_t version = 0;
  {
    Statement read(db, "PRAGMA user_version");
    if (!read.Next()) return SqliteWriteError(db, read.code(), path);
    version = read.Int(0);
  }
  if (version > kStoreVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the job store ", path, " has format version ", version,
        ", newer than this descentd reads (version ", kStoreVersion,
        "); run the descentd that wrote it, or move the file aside to start with an empty "
        "store"));
  }
  if (version < 0) {
    return absl::DataLossError(absl::StrCat("the job store ", path, " has format version ",
                                            version, ", which no descentd writes; move it aside "
                                            "to start with an empty store"));
  }
  const std::string cache_size = absl::StrCat("PRAGMA cache_size=-", kPageCacheKib);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", cache_size.c_str()}) {
    if (const int result = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
        result != SQLITE_OK) {
      return SqliteWriteError(db, result, path);
    }
  }
  // Version 0: a new store (or an empty file).
  absl::Status problem;
  RETURN_IF_ERROR(store->InTransaction([&] {
    int code = version == 1 ? MigrateFromVersion1(db, kSchema, &problem)
                            : sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr);
    // Version 3 adds the sweeps' tables to version 2's.
    if (code == SQLITE_OK) code = sqlite3_exec(db, kSqliteSweepSchema, nullptr, nullptr, nullptr);
    if (code == SQLITE_OK && version != kStoreVersion) {
      const std::string set = absl::StrCat("PRAGMA user_version = ", kStoreVersion);
      code = sqlite3_exec(db, set.c_str(), nullptr, nullptr, nullptr);
    }
    return code;
  }, &problem));
  // Only the tables start-up reads: a whole-file check reads every page (6 s for 100,000
  // finished jobs), while damage elsewhere is still found, as DATA_LOSS for the job whose
  // page it is, when that page is read.
  for (const char* table : {"jobs", "checkpoints"}) {
    Statement check(db, absl::StrCat("PRAGMA quick_check(", table, ")"));
    if (!check.Next() || check.Blob(0) != "ok") {
      return absl::DataLossError(absl::StrCat(
          "the job store ", path, " fails SQLite's quick_check of its ", table, " (",
          check.ok() ? std::string(check.Blob(0)) : sqlite3_errmsg(db),
          "); move it aside to start with an empty store"));
    }
  }
  return store;
}

SqliteJobStore::~SqliteJobStore() { sqlite3_close(db_); }

template <typename Body>
absl::Status SqliteJobStore::InTransaction(Body body, const absl::Status* problem) {
  return SqliteTransaction(db_, path_, std::move(body), problem);
}

absl::Status SqliteJobStore::Insert(const v1::JobSpec& spec, const JobWrite& write) {
  absl::MutexLock lock(&mu_);
  {
    Statement exists(db_, "SELECT 1 FROM jobs WHERE sequence = ?1 OR id = ?2");
    exists.Bind(1, write.sequence).Bind(2, write.job.id());
    if (exists.Next()) {
      return absl::AlreadyExistsError(absl::StrCat("job ", write.job.id(), " (sequence ",
                                                   write.sequence, ") is stored already"));
    }
  }
  const std::string spec_bytes = spec.SerializeAsString();
  // FULL for this commit only (see the top of this file); the connection goes back to NORMAL
  // whatever the outcome.
  sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  const absl::Status inserted = InTransaction([&] {
    Statement insert(db_,
                     "INSERT INTO jobs (sequence, id, state, request_id, job, spec) "
                     "VALUES (?1, ?2, 0, '', x'', ?3)");
    insert.Bind(1, write.sequence).Bind(2, write.job.id()).BindBlob(3, spec_bytes);
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
    return WriteLocked(write);
  });
  sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  return inserted;
}

absl::Status SqliteJobStore::Write(const JobWrite& write) {
  absl::MutexLock lock(&mu_);
  {
    Statement exists(db_, "SELECT 1 FROM jobs WHERE sequence = ?1");
    exists.Bind(1, write.sequence);
    if (!exists.Next()) {
      return absl::NotFoundError(absl::StrCat("job sequence ", write.sequence, " is not stored"));
    }
  }
  return InTransaction([&] { return WriteLocked(write); });
}

// The statements of one Write, inside the caller's transaction: SQLITE_OK, or the code of
// the first statement that failed.
int SqliteJobStore::WriteLocked(const JobWrite& write) {
  const int64_t job = write.sequence;
  {
    Statement update(db_,
                     "UPDATE jobs SET state = ?2, request_id = ?3, end_time = ?4, job = ?5 "
                     "WHERE sequence = ?1");
    update.Bind(1, job).Bind(2, write.job.state()).Bind(3, write.job.request_id());
    if (const std::optional<int64_t> end_time = EndTimeColumn(write.job)) {
      update.Bind(4, *end_time);
    } else {
      update.BindNull(4);
    }
    update.BindBlob(5, write.job.SerializeAsString());
    if (const int code = update.Run(); code != SQLITE_OK) return code;
  }
  if (!write.losses.empty()) {
    Statement drop(db_, "DELETE FROM losses WHERE job = ?1 AND first_step >= ?2");
    drop.Bind(1, job).Bind(2, write.first_step);
    if (const int code = drop.Run(); code != SQLITE_OK) return code;
    Statement insert(db_, "INSERT INTO losses (job, first_step, losses) VALUES (?1, ?2, ?3)");
    for (size_t first = 0; first < write.losses.size(); first += kMaxStepsPerChunk) {
      const size_t count = std::min<size_t>(kMaxStepsPerChunk, write.losses.size() - first);
      insert.Bind(1, job)
          .Bind(2, write.first_step + static_cast<int64_t>(first))
          .BindBlob(3, LossChunkBytes(write.losses.data() + first, count));
      if (const int code = insert.Run(); code != SQLITE_OK) return code;
    }
  }
  // One statement for all events: a run of short epochs brings hundreds per write.
  Statement insert(db_,
                   "INSERT INTO events (job, after_step, epoch, message) VALUES (?1, ?2, ?3, ?4)");
  std::string message;
  for (const StoredEvent& event : write.events) {
    event.message.SerializeToString(&message);
    insert.Bind(1, job)
        .Bind(2, event.after_step)
        .Bind(3, event.message.has_epoch() ? event.message.epoch().epoch() : 0)
        .BindBlob(4, message);
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
  }
  if (write.checkpoint) {
    Statement replace(db_, "INSERT OR REPLACE INTO checkpoints (job, checkpoint) VALUES (?1, ?2)");
    replace.Bind(1, job).BindBlob(2, write.checkpoint->SerializeAsString());
    if (const int code = replace.Run(); code != SQLITE_OK) return code;
  } else if (write.clear_checkpoint) {
    Statement drop(db_, "DELETE FROM checkpoints WHERE job = ?1");
    drop.Bind(1, job);
    if (const int code = drop.Run(); code != SQLITE_OK) return code;
  }
  if (write.model) {
    Statement update(db_, "INSERT OR REPLACE INTO models (job, model) VALUES (?1, ?2)");
    update.Bind(1, job).BindBlob(2, write.model->SerializeAsString());
    if (const int code = update.Run(); code != SQLITE_OK) return code;
  }
  return SQLITE_OK;
}

absl::Status SqliteJobStore::TruncateAfter(int64_t sequence, int64_t step, int epochs,
                                           int64_t /*lease_token*/) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&] {
    // Chunks are written whole up to a checkpoint's step, so none straddles `step`.
    Statement losses(db_, "DELETE FROM losses WHERE job = ?1 AND first_step > ?2");
    losses.Bind(1, sequence).Bind(2, step);
    if (const int code = losses.Run(); code != SQLITE_OK) return code;
    Statement events(db_, "DELETE FROM events WHERE job = ?1 AND epoch > ?2");
    events.Bind(1, sequence).Bind(2, epochs);
    return events.Run();
  });
}

absl::Status SqliteJobStore::Corrupt(int64_t sequence, const char* what) const {
  return absl::DataLossError(absl::StrCat("the job store ", path_, " holds a malformed ", what,
                                          " for job sequence ", sequence,
                                          "; move the file aside to start afresh"));
}

absl::StatusOr<std::vector<StoredJobSummary>> SqliteJobStore::LoadSummaries() const {
  absl::MutexLock lock(&mu_);
  std::vector<StoredJobSummary> jobs;
  {
    // Sequences start at 0 and retention leaves gaps, so this bounds the count from above
    // without a scan: one allocation instead of a doubling per power of two.
    Statement highest(db_, "SELECT MAX(sequence) FROM jobs");
    if (highest.Next() && !highest.IsNull(0)) {
      jobs.reserve(static_cast<size_t>(std::clamp<int64_t>(highest.Int(0) + 1, 0, 1 << 24)));
    }
  }
  Statement rows(db_,
                 "SELECT sequence, id, state, request_id, end_time FROM jobs ORDER BY sequence");
  while (rows.Next()) {
    StoredJobSummary& summary = jobs.emplace_back();
    summary.sequence = rows.Int(0);
    summary.id = std::string(rows.Blob(1));
    summary.state = static_cast<v1::JobState>(rows.Int(2));
    summary.request_id = std::string(rows.Blob(3));
    if (!rows.IsNull(4)) summary.end_time = absl::FromUnixNanos(rows.Int(4));
  }
  if (!rows.ok()) return SqliteWriteError(db_, rows.code(), path_);
  return jobs;
}

absl::StatusOr<StoredJob> SqliteJobStore::ReadJob(int64_t sequence) const {
  absl::MutexLock lock(&mu_);
  Statement row(db_,
                "SELECT jobs.spec, jobs.job, checkpoints.checkpoint, "
                "(SELECT MAX(first_step + length(losses) / 8) - 1 FROM losses WHERE job = ?1) "
                "FROM jobs LEFT JOIN checkpoints ON checkpoints.job = jobs.sequence "
                "WHERE jobs.sequence = ?1");
  row.Bind(1, sequence);
  if (!row.Next()) {
    if (!row.ok()) return SqliteWriteError(db_, row.code(), path_);
    return absl::NotFoundError(absl::StrCat("job sequence ", sequence, " is not stored"));
  }
  StoredJob job;
  job.sequence = sequence;
  const std::string_view spec = row.Blob(0);
  const std::string_view stored = row.Blob(1);
  if (!job.spec.ParseFromArray(spec.data(), static_cast<int>(spec.size())) ||
      !job.job.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
    return Corrupt(sequence, "job row");
  }
  if (!row.IsNull(2)) {
    const std::string_view checkpoint = row.Blob(2);
    if (!job.checkpoint.emplace().ParseFromArray(checkpoint.data(),
                                                 static_cast<int>(checkpoint.size()))) {
      return Corrupt(sequence, "checkpoint");
    }
  }
  if (!row.IsNull(3)) job.stored_steps = row.Int(3);
  return job;
}

absl::StatusOr<int64_t> SqliteJobStore::FindSequence(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  Statement row(db_, "SELECT sequence FROM jobs WHERE id = ?1");
  row.Bind(1, id);
  if (row.Next()) return row.Int(0);
  if (!row.ok()) return SqliteWriteError(db_, row.code(), path_);
  return absl::NotFoundError(absl::StrCat("job ", id, " is not stored"));
}

absl::StatusOr<store::v1::Model> SqliteJobStore::ReadModel(int64_t sequence) const {
  absl::MutexLock lock(&mu_);
  Statement row(db_, "SELECT model FROM models WHERE job = ?1");
  row.Bind(1, sequence);
  if (row.Next()) {
    store::v1::Model model;
    const std::string_view bytes = row.Blob(0);
    if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Corrupt(sequence, "model");
    }
    return model;
  }
  if (!row.ok()) return SqliteWriteError(db_, row.code(), path_);
  return absl::NotFoundError(absl::StrCat("job sequence ", sequence, " has no stored model"));
}

absl::StatusOr<std::vector<v1::EpochSummary>> SqliteJobStore::ReadEpochs(int64_t sequence,
                                                                   int up_to_epoch) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::EpochSummary> epochs;
  Statement rows(db_,
                 "SELECT message FROM events WHERE job = ?1 AND epoch BETWEEN 1 AND ?2 "
                 "ORDER BY ordinal");
  rows.Bind(1, sequence).Bind(2, up_to_epoch);
  v1::WatchJobResponse message;
  while (rows.Next()) {
    const std::string_view bytes = rows.Blob(0);
    if (!ParseStoredEvent(bytes, &message) || !message.has_epoch()) {
      return Corrupt(sequence, "epoch summary");
    }
    epochs.push_back(std::move(*message.mutable_epoch()));
  }
  if (!rows.ok()) return SqliteWriteError(db_, rows.code(), path_);
  return epochs;
}

absl::StatusOr<StoredHistory> SqliteJobStore::ReadHistory(int64_t sequence, int64_t after_step,
                                                    int64_t max_steps) const {
  DESCENT_CHECK(after_step >= 0 && max_steps >= 0);
  absl::MutexLock lock(&mu_);
  StoredHistory page;
  page.after_step = after_step;
  std::vector<double>& losses = page.losses;
  if (max_steps > 0) {
    // The chunk holding step after_step + 1, then the chunks that start in the page.
    Statement chunks(db_,
                     "SELECT first_step, losses FROM ("
                     "  SELECT first_step, losses FROM losses WHERE job = ?1 AND first_step <= ?2"
                     "  ORDER BY first_step DESC LIMIT 1)"
                     " UNION ALL "
                     "SELECT first_step, losses FROM losses"
                     " WHERE job = ?1 AND first_step > ?2 AND first_step <= ?3"
                     " ORDER BY first_step");
    chunks.Bind(1, sequence).Bind(2, after_step + 1).Bind(3, after_step + max_steps);
    int64_t next_step = after_step + 1;
    while (chunks.Next()) {
      if (!AppendLossChunk(chunks.Int(0), chunks.Blob(1), &next_step, &losses)) {
        return Corrupt(sequence, "loss history");
      }
    }
    if (!chunks.ok()) return SqliteWriteError(db_, chunks.code(), path_);
  }
  Statement events(db_,
                   "SELECT after_step, message FROM events "
                   "WHERE job = ?1 AND after_step BETWEEN ?2 AND ?3 ORDER BY after_step, ordinal");
  events.Bind(1, sequence).Bind(2, after_step)
      .Bind(3, after_step + static_cast<int64_t>(losses.size()));
  while (events.Next()) {
    v1::WatchJobResponse message;
    if (!ParseStoredEvent(events.Blob(1), &message)) return Corrupt(sequence, "event");
    page.events.push_back(StoredEvent{events.Int(0), std::move(message)});
  }
  if (!events.ok()) return SqliteWriteError(db_, events.code(), path_);
  return page;
}

absl::Status SqliteJobStore::Delete(const std::vector<int64_t>& sequences) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&] {
    for (const char* sql : {"DELETE FROM losses WHERE job = ?1", "DELETE FROM events WHERE job = ?1",
                            "DELETE FROM checkpoints WHERE job = ?1",
                            "DELETE FROM models WHERE job = ?1",
                            "DELETE FROM jobs WHERE sequence = ?1"}) {
      Statement drop(db_, sql);
      for (int64_t sequence : sequences) {
        drop.Bind(1, sequence);
        if (const int code = drop.Run(); code != SQLITE_OK) return code;
      }
    }
    return SQLITE_OK;
  });
}

}  // namespace descent::server
