#include "server/job_store.h"

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

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
// PRAGMA user_version of a store in this schema.
constexpr int64_t kStoreVersion = 1;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  sequence INTEGER PRIMARY KEY,   -- submission order; List pages by it
  id TEXT NOT NULL UNIQUE,
  state INTEGER NOT NULL,         -- descent.v1.JobState
  spec BLOB NOT NULL,             -- descent.v1.JobSpec as echoed to clients
  job BLOB NOT NULL,              -- descent.v1.Job without the spec, as of the last write
  model BLOB                      -- a SUCCEEDED job's model
);
-- Apart from the jobs row, so updating the row does not rewrite the checkpoint's pages.
CREATE TABLE IF NOT EXISTS checkpoints (  -- a running job's latest trainer checkpoint
  job INTEGER PRIMARY KEY,
  checkpoint BLOB NOT NULL
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
)sql";

// A write failure as the service reports it: no room (a full disk, a quota, the file size
// limit: the client may retry once space is freed) or another I/O problem, naming the
// database so an operator knows where to look.
absl::Status WriteError(sqlite3* db, int code, const std::string& path) {
  const int primary = code & 0xff;
  const int os_error = sqlite3_system_errno(db);
  const std::string detail = sqlite3_errmsg(db);
  if (primary == SQLITE_FULL ||
      (primary == SQLITE_IOERR && (os_error == ENOSPC || os_error == EDQUOT || os_error == EFBIG))) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot write the job store ", path, ": no space left (", detail,
        os_error != 0 ? absl::StrCat(", ", std::strerror(os_error)) : std::string(),
        "); free space in the --data-dir volume"));
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return absl::UnavailableError(absl::StrCat(
        "the job store ", path, " is locked by another process (", detail,
        "); run one descentd per --data-dir"));
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot write the job store ", path, ": ", detail, " (sqlite error ", code,
      os_error != 0 ? absl::StrCat(", ", std::strerror(os_error)) : std::string(),
      "); the --data-dir volume may be full or failing"));
}

// One prepared statement; finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) {
    code_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value) {
    if (ok()) code_ = sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& Bind(int index, std::string_view text) {
    if (ok()) {
      code_ = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                SQLITE_TRANSIENT);
    }
    return *this;
  }
  Statement& BindBlob(int index, std::string_view bytes) {
    if (ok()) {
      code_ = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    }
    return *this;
  }

  // Runs a statement that returns no rows, then resets it for the next bindings.
  int Run() {
    if (!ok()) return code_;
    const int code = sqlite3_step(stmt_);
    code_ = code == SQLITE_DONE ? SQLITE_OK : code;
    sqlite3_reset(stmt_);
    return code_;
  }
  // Steps to the next row: true with a row, false at the end or on error (see code()).
  bool Next() {
    if (!ok()) return false;
    const int code = sqlite3_step(stmt_);
    if (code == SQLITE_ROW) return true;
    code_ = code == SQLITE_DONE ? SQLITE_OK : code;
    return false;
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string_view Blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? std::string_view() :
                             std::string_view(static_cast<const char*>(data), size);
  }
  int code() const { return code_; }
  bool ok() const { return code_ == SQLITE_OK; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int code_ = SQLITE_OK;
};

std::string LossesBlob(const std::vector<double>& losses) {
  return std::string(reinterpret_cast<const char*>(losses.data()), losses.size() * sizeof(double));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path) {
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
  std::unique_ptr<JobStore> store(new JobStore(path, db));
  absl::MutexLock lock(&store->mu_);
  sqlite3_extended_result_codes(db, 1);
  // Exclusive locking: the first write below takes the lock for the process's lifetime, so
  // a second descentd on this data dir fails here. WAL then needs no shared-memory file.
  for (const char* pragma : {"PRAGMA locking_mode=EXCLUSIVE", "PRAGMA journal_mode=WAL",
                             "PRAGMA synchronous=NORMAL"}) {
    if (const int result = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
        result != SQLITE_OK) {
      return WriteError(db, result, path);
    }
  }
  RETURN_IF_ERROR(store->InTransaction([&] { return sqlite3_exec(db, kSchema, nullptr, nullptr,
                                                                 nullptr); }));
  {
    Statement version(db, "PRAGMA user_version");
    const int64_t found = version.Next() ? version.Int(0) : -1;
    if (found == 0) {  // a new store
      const std::string set = absl::StrCat("PRAGMA user_version = ", kStoreVersion);
      if (const int result = sqlite3_exec(db, set.c_str(), nullptr, nullptr, nullptr);
          result != SQLITE_OK) {
        return WriteError(db, result, path);
      }
    } else if (found != kStoreVersion) {
      return absl::DataLossError(absl::StrCat(
          "the job store ", path, " has format version ", found, "; this descentd reads version ",
          kStoreVersion, ". Move it aside to start with an empty store"));
    }
  }
  Statement check(db, "PRAGMA quick_check");
  if (!check.Next() || check.Blob(0) != "ok") {
    return absl::DataLossError(absl::StrCat(
        "the job store ", path, " fails SQLite's quick_check (",
        check.ok() ? std::string(check.Blob(0)) : sqlite3_errmsg(db),
        "); move it aside to start with an empty store"));
  }
  return store;
}

JobStore::~JobStore() { sqlite3_close(db_); }

template <typename Body>
absl::Status JobStore::InTransaction(Body body) {
  int code = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (code == SQLITE_OK) code = body();
  if (code == SQLITE_OK) code = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (code == SQLITE_OK) return absl::OkStatus();
  absl::Status error = WriteError(db_, code, path_);
  // SQLite may already have rolled back (after an I/O error); otherwise undo the partial
  // transaction so the store stays as it was.
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return error;
}

absl::Status JobStore::Insert(const v1::JobSpec& spec, const JobWrite& write) {
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
                     "INSERT INTO jobs (sequence, id, state, spec, job) VALUES (?1, ?2, 0, ?3, "
                     "x'')");
    insert.Bind(1, write.sequence).Bind(2, write.job.id()).BindBlob(3, spec_bytes);
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
    return WriteLocked(write);
  });
  sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  return inserted;
}

absl::Status JobStore::Write(const JobWrite& write) {
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
int JobStore::WriteLocked(const JobWrite& write) {
  const int64_t job = write.sequence;
  {
    Statement update(db_, "UPDATE jobs SET state = ?2, job = ?3 WHERE sequence = ?1");
    update.Bind(1, job).Bind(2, write.job.state()).BindBlob(3, write.job.SerializeAsString());
    if (const int code = update.Run(); code != SQLITE_OK) return code;
  }
  if (!write.losses.empty()) {
    Statement drop(db_, "DELETE FROM losses WHERE job = ?1 AND first_step >= ?2");
    drop.Bind(1, job).Bind(2, write.first_step);
    if (const int code = drop.Run(); code != SQLITE_OK) return code;
    Statement insert(db_, "INSERT INTO losses (job, first_step, losses) VALUES (?1, ?2, ?3)");
    insert.Bind(1, job).Bind(2, write.first_step).BindBlob(3, LossesBlob(write.losses));
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
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
    replace.Bind(1, job).BindBlob(2, *write.checkpoint);
    if (const int code = replace.Run(); code != SQLITE_OK) return code;
  } else if (write.clear_checkpoint) {
    Statement drop(db_, "DELETE FROM checkpoints WHERE job = ?1");
    drop.Bind(1, job);
    if (const int code = drop.Run(); code != SQLITE_OK) return code;
  }
  if (write.model) {
    Statement update(db_, "UPDATE jobs SET model = ?2 WHERE sequence = ?1");
    update.Bind(1, job).BindBlob(2, *write.model);
    if (const int code = update.Run(); code != SQLITE_OK) return code;
  }
  return SQLITE_OK;
}

absl::Status JobStore::TruncateAfter(int64_t sequence, int64_t step, int epochs) {
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

absl::StatusOr<std::vector<StoredJob>> JobStore::LoadAll() const {
  absl::MutexLock lock(&mu_);
  const auto corrupt = [&](int64_t sequence, const char* what) {
    return absl::DataLossError(absl::StrCat("the job store ", path_, " holds a malformed ", what,
                                            " for job sequence ", sequence,
                                            "; move the file aside to start afresh"));
  };
  std::vector<StoredJob> jobs;
  Statement rows(db_,
                 "SELECT jobs.sequence, jobs.spec, jobs.job, checkpoints.checkpoint, jobs.model "
                 "FROM jobs LEFT JOIN checkpoints ON checkpoints.job = jobs.sequence "
                 "ORDER BY jobs.sequence");
  while (rows.Next()) {
    StoredJob& job = jobs.emplace_back();
    job.sequence = rows.Int(0);
    const std::string_view spec = rows.Blob(1);
    const std::string_view row = rows.Blob(2);
    if (!job.spec.ParseFromArray(spec.data(), static_cast<int>(spec.size())) ||
        !job.job.ParseFromArray(row.data(), static_cast<int>(row.size()))) {
      return corrupt(job.sequence, "job row");
    }
    if (!rows.IsNull(3)) job.checkpoint = std::string(rows.Blob(3));
    if (!rows.IsNull(4)) job.model = std::string(rows.Blob(4));
  }
  if (!rows.ok()) return WriteError(db_, rows.code(), path_);
  for (StoredJob& job : jobs) {
    Statement losses(db_, "SELECT first_step, losses FROM losses WHERE job = ?1 ORDER BY first_step");
    losses.Bind(1, job.sequence);
    while (losses.Next()) {
      const std::string_view bytes = losses.Blob(1);
      if (losses.Int(0) != static_cast<int64_t>(job.losses.size()) + 1 ||
          bytes.size() % sizeof(double) != 0) {
        return corrupt(job.sequence, "loss history");
      }
      const size_t first = job.losses.size();
      job.losses.resize(first + bytes.size() / sizeof(double));
      if (!bytes.empty()) std::memcpy(job.losses.data() + first, bytes.data(), bytes.size());
    }
    if (!losses.ok()) return WriteError(db_, losses.code(), path_);
    Statement events(db_,
                     "SELECT after_step, message FROM events WHERE job = ?1 ORDER BY ordinal");
    events.Bind(1, job.sequence);
    while (events.Next()) {
      StoredEvent& event = job.events.emplace_back();
      event.after_step = events.Int(0);
      const std::string_view bytes = events.Blob(1);
      if (!event.message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return corrupt(job.sequence, "event");
      }
    }
    if (!events.ok()) return WriteError(db_, events.code(), path_);
  }
  return jobs;
}

}  // namespace descent::server
