#include "server/store/postgres/postgres_job_store.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/store/postgres/postgres_schema.h"
#include "server/store/stored_rows.h"

namespace descent::server {
namespace {

// Writes other than Insert skip the wait for the WAL flush (postgres_job_store.h).
constexpr char kBeginAsynchronous[] = "BEGIN; SET LOCAL synchronous_commit TO off";

// `INSERT INTO events ...` for `count` events: ($1, $2, $3, $4), ($1, $5, $6, $7), ...
std::string InsertEventsSql(size_t count) {
  std::string sql = "INSERT INTO events (job, after_step, epoch, message) VALUES ";
  for (size_t i = 0; i < count; ++i) {
    const size_t first = 2 + 3 * i;
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "($1, $", first, ", $", first + 1, ", $",
                    first + 2, ")");
  }
  return sql;
}

// A lease in milliseconds, as the statements take it.
int64_t Milliseconds(absl::Duration timeout) { return absl::ToInt64Milliseconds(timeout); }

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresJobStore>> PostgresJobStore::Open(
    const std::string& url, absl::Duration lease_timeout) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(url, lease_timeout));
  RETURN_IF_ERROR(PrepareSchema(*db));
  ASSIGN_OR_RETURN(std::unique_ptr<PgNotifications> notifications, PgNotifications::Start(url));
  return std::unique_ptr<PostgresJobStore>(
      new PostgresJobStore(std::move(db), std::move(notifications)));
}

absl::Status PostgresJobStore::Corrupt(int64_t sequence, const char* what) const {
  return absl::DataLossError(absl::StrCat("the job store ", location_, " holds a malformed ", what,
                                          " for job sequence ", sequence,
                                          "; delete the job or restore the database"));
}

absl::Status PostgresJobStore::Fenced(absl::Status status, int64_t sequence,
                                      int64_t lease_token) const {
  if (status.ok() || lease_token == 0 || !db_->gave_up()) return status;
  return absl::AbortedError(absl::StrCat(
      "job sequence ", sequence, ": the job store ", location_,
      " was unreachable for the whole lease timeout, so this replica's lease on the job has "
      "expired; it stops training the job, which resumes from its last checkpoint on the "
      "replica that claims it once the database is back (", status.message(), ")"));
}

absl::Status PostgresJobStore::Insert(const v1::JobSpec& spec, const JobWrite& write) {
  absl::MutexLock lock(&mu_);
  const std::string& request_id = write.job.request_id();
  bool request_taken = false;
  const absl::Status inserted = db_->InTransaction([&]() -> absl::Status {
    if (!request_id.empty()) {
      // Replicas given the same request at once take turns here, and the second finds the
      // first's job.
      RETURN_IF_ERROR(db_->Run("SELECT pg_advisory_xact_lock(hashtext($1))",
                               PgParams().Text(request_id), "lock a request id")
                          .status());
      ASSIGN_OR_RETURN(PgResult taken, db_->Run("SELECT id FROM jobs WHERE request_id = $1",
                                                PgParams().Text(request_id), "find a request"));
      if (taken.rows() > 0) {
        request_taken = true;
        return absl::AlreadyExistsError(absl::StrCat("request_id \"", request_id,
                                                     "\" was already used for job ",
                                                     std::string(taken.Bytes(0, 0))));
      }
    }
    // Idle workers of every replica hear of the job when the transaction commits.
    RETURN_IF_ERROR(db_->Run(absl::StrCat("INSERT INTO jobs (sequence, id, state, request_id, "
                                          "job, spec) VALUES ($1, $2, 0, '', ''::bytea, $3) "
                                          "RETURNING pg_notify('",
                                          PgNotifications::kClaimableChannel,
                                          "', sequence::text)"),
                             PgParams().Int(write.sequence).Text(write.job.id())
                                 .Bytes(spec.SerializeAsString()),
                             "insert a job")
                        .status());
    return WriteLocked(write);
  });
  if (absl::IsAlreadyExists(inserted) && !request_taken) {
    return absl::AlreadyExistsError(absl::StrCat("job ", write.job.id(), " (sequence ",
                                                 write.sequence, ") is stored already"));
  }
  return inserted;
}

absl::Status PostgresJobStore::MissingOrLeaseLost(int64_t sequence) {
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT 1 FROM jobs WHERE sequence = $1",
                                          PgParams().Int(sequence), "find a job"));
  if (row.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("job sequence ", sequence, " is not stored"));
  }
  return LeaseLostError(sequence);
}

absl::StatusOr<std::optional<Lease>> PostgresJobStore::Claim(const LeaseHolder& holder,
                                                              std::optional<int64_t> only) {
  absl::MutexLock lock(&mu_);
  // One statement: the row is locked from the choice to the update, and rows other
  // replicas are claiming at the same moment are skipped rather than waited for. The
  // clock is the database's, so replicas' clocks need not agree. A job whose lease is held
  // by another process at this replica's address is that replica's earlier life (it
  // restarted), which will never renew it.
  PgParams params;
  params.Text(holder.runner).Int(holder.instance).Int(Milliseconds(holder.timeout));
  if (only) params.Int(*only);
  ASSIGN_OR_RETURN(
      PgResult claimed,
      db_->Run(absl::StrCat(
                   "UPDATE jobs SET runner = $1, lease_instance = $2, "
                   "lease_token = jobs.lease_token + 1, "
                   "lease_expires = now() + $3::bigint * interval '1 millisecond' "
                   "FROM (SELECT sequence FROM jobs WHERE state IN (1, 2) AND "
                   "(lease_expires IS NULL OR lease_expires < now() OR "
                   "(runner = $1 AND lease_instance <> $2)",
                   // This process may take one job over from itself (a cancel of a job one of
                   // its workers claimed but has not started).
                   only ? " OR lease_instance = $2) AND sequence = $4" : ")",
                   " ORDER BY state DESC, sequence LIMIT 1 FOR UPDATE SKIP LOCKED) AS next "
                   "WHERE jobs.sequence = next.sequence "
                   "RETURNING jobs.sequence, jobs.lease_token, jobs.state, "
                   "jobs.cancel_requested::integer"),
               params, "claim a job"));
  if (claimed.rows() == 0) return std::nullopt;
  return Lease{claimed.Int(0, 0), claimed.Int(0, 1),
               static_cast<v1::JobState>(claimed.Int(0, 2)), claimed.Int(0, 3) != 0};
}

absl::StatusOr<std::optional<int64_t>> PostgresJobStore::FindRequest(
    const std::string& request_id) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT sequence FROM jobs WHERE request_id = $1 "
                                          "ORDER BY sequence LIMIT 1",
                                          PgParams().Text(request_id), "find a request"));
  if (row.rows() == 0) return std::nullopt;
  return row.Int(0, 0);
}

absl::StatusOr<std::vector<UnfinishedJobs>> PostgresJobStore::CountUnfinished() const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult rows,
                   db_->Run("SELECT state, runner, COUNT(*) FROM jobs WHERE state IN (1, 2) "
                            "GROUP BY state, runner ORDER BY state, runner",
                            {}, "count the unfinished jobs"));
  std::vector<UnfinishedJobs> counts(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    counts[static_cast<size_t>(i)] = UnfinishedJobs{static_cast<v1::JobState>(rows.Int(i, 0)),
                                                    std::string(rows.Bytes(i, 1)),
                                                    rows.Int(i, 2)};
  }
  return counts;
}

absl::StatusOr<int64_t> PostgresJobStore::NextSequence() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult next, db_->Run("SELECT nextval('job_sequences')", {},
                                           "number a new job"));
  return next.Int(0, 0);
}

absl::StatusOr<bool> PostgresJobStore::RenewLease(int64_t sequence, int64_t token,
                                                  absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<PgResult> renewed =
      db_->Run("UPDATE jobs SET lease_expires = now() + $3::bigint * interval '1 millisecond' "
               "WHERE sequence = $1 AND lease_token = $2 RETURNING cancel_requested::integer",
               PgParams().Int(sequence).Int(token).Int(Milliseconds(timeout)), "renew a lease");
  RETURN_IF_ERROR(Fenced(renewed.status(), sequence, token));
  if (renewed->rows() == 0) return LeaseLostError(sequence);
  return renewed->Int(0, 0) != 0;
}

absl::StatusOr<v1::JobState> PostgresJobStore::RequestCancel(int64_t sequence) {
  absl::MutexLock lock(&mu_);
  // One statement, so the notification goes out as the request commits.
  ASSIGN_OR_RETURN(
      PgResult requested,
      db_->Run(absl::StrCat("WITH requested AS (UPDATE jobs SET cancel_requested = true "
                            "WHERE sequence = $1 AND state IN (1, 2) RETURNING sequence, state) "
                            "SELECT requested.state FROM requested, pg_notify('",
                            PgNotifications::kCancelChannel, "', requested.sequence::text)"),
               PgParams().Int(sequence), "request a cancel"));
  if (requested.rows() == 1) return static_cast<v1::JobState>(requested.Int(0, 0));
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT state FROM jobs WHERE sequence = $1",
                                          PgParams().Int(sequence), "find a job"));
  if (row.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("job sequence ", sequence, " is not stored"));
  }
  return static_cast<v1::JobState>(row.Int(0, 0));
}

absl::Status PostgresJobStore::ReleaseLease(int64_t sequence, int64_t token) {
  absl::MutexLock lock(&mu_);
  return db_->Run(absl::StrCat("UPDATE jobs SET lease_expires = NULL WHERE sequence = $1 AND "
                               "lease_token = $2 RETURNING pg_notify('",
                               PgNotifications::kClaimableChannel, "', sequence::text)"),
                  PgParams().Int(sequence).Int(token), "release a lease")
      .status();
}

absl::Status PostgresJobStore::Write(const JobWrite& write) {
  absl::MutexLock lock(&mu_);
  return Fenced(db_->InTransaction([&] { return WriteLocked(write); }, kBeginAsynchronous),
                write.sequence, write.lease_token);
}

absl::Status PostgresJobStore::WriteLocked(const JobWrite& write) {
  const int64_t job = write.sequence;
  PgParams row;
  row.Int(job).Int(write.job.state()).Text(write.job.request_id());
  if (const std::optional<int64_t> end_time = EndTimeColumn(write.job)) {
    row.Int(*end_time);
  } else {
    row.Null();
  }
  row.Bytes(write.job.SerializeAsString());
  row.Int(write.lease_token);
  // First, so the row stays locked until the commit: a claim waits for this write to end.
  // Its notification is sent when the transaction commits: replicas following the job read
  // what it wrote.
  ASSIGN_OR_RETURN(
      PgResult updated,
      db_->Run(absl::StrCat("UPDATE jobs SET state = $2, request_id = $3, end_time = $4, "
                            "job = $5 WHERE sequence = $1 AND lease_token = $6 "
                            "RETURNING pg_notify('", PgNotifications::kWrittenChannel,
                            "', sequence::text)"),
               row, "update a job"));
  if (updated.rows() == 0) return MissingOrLeaseLost(job);
  if (!write.losses.empty()) {
    RETURN_IF_ERROR(db_->Run("DELETE FROM losses WHERE job = $1 AND first_step >= $2",
                             PgParams().Int(job).Int(write.first_step), "replace losses")
                        .status());
    for (size_t first = 0; first < write.losses.size(); first += kMaxStepsPerChunk) {
      const size_t count = std::min<size_t>(kMaxStepsPerChunk, write.losses.size() - first);
      RETURN_IF_ERROR(
          db_->Run("INSERT INTO losses (job, first_step, losses) VALUES ($1, $2, $3)",
                   PgParams().Int(job).Int(write.first_step + static_cast<int64_t>(first))
                       .Bytes(LossChunkBytes(write.losses.data() + first, count)),
                   "store losses")
              .status());
    }
  }
  for (size_t first = 0; first < write.events.size(); first += kEventsPerStatement) {
    const size_t count = std::min(kEventsPerStatement, write.events.size() - first);
    PgParams events;
    events.Int(job);
    for (size_t i = first; i < first + count; ++i) {
      const v1::WatchJobResponse& message = write.events[i].message;
      events.Int(write.events[i].after_step)
          .Int(message.has_epoch() ? message.epoch().epoch() : 0)
          .Bytes(message.SerializeAsString());
    }
    RETURN_IF_ERROR(db_->Run(InsertEventsSql(count), events, "store events").status());
  }
  if (write.checkpoint) {
    RETURN_IF_ERROR(db_->Run("INSERT INTO checkpoints (job, checkpoint) VALUES ($1, $2) "
                             "ON CONFLICT (job) DO UPDATE SET checkpoint = EXCLUDED.checkpoint",
                             PgParams().Int(job).Bytes(write.checkpoint->SerializeAsString()),
                             "store a checkpoint")
                        .status());
  } else if (write.clear_checkpoint) {
    RETURN_IF_ERROR(db_->Run("DELETE FROM checkpoints WHERE job = $1", PgParams().Int(job),
                             "drop a checkpoint")
                        .status());
  }
  if (write.model) {
    RETURN_IF_ERROR(db_->Run("INSERT INTO models (job, model) VALUES ($1, $2) "
                             "ON CONFLICT (job) DO UPDATE SET model = EXCLUDED.model",
                             PgParams().Int(job).Bytes(write.model->SerializeAsString()),
                             "store a model")
                        .status());
  }
  return absl::OkStatus();
}

absl::Status PostgresJobStore::TruncateAfter(int64_t sequence, int64_t step, int epochs,
                                             int64_t lease_token) {
  absl::MutexLock lock(&mu_);
  return Fenced(db_->InTransaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(PgResult held,
                     db_->Run("SELECT 1 FROM jobs WHERE sequence = $1 AND lease_token = $2 "
                              "FOR UPDATE",
                              PgParams().Int(sequence).Int(lease_token), "check the lease"));
    if (held.rows() == 0) return MissingOrLeaseLost(sequence);
    // Chunks are written whole up to a checkpoint's step, so none straddles `step`.
    RETURN_IF_ERROR(db_->Run("DELETE FROM losses WHERE job = $1 AND first_step > $2",
                             PgParams().Int(sequence).Int(step), "truncate losses")
                        .status());
    return db_->Run("DELETE FROM events WHERE job = $1 AND epoch > $2",
                    PgParams().Int(sequence).Int(epochs), "truncate events")
        .status();
  }), sequence, lease_token);
}

absl::StatusOr<std::vector<StoredJobSummary>> PostgresJobStore::LoadSummaries() const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult rows,
                   db_->Run("SELECT sequence, id, state, request_id, end_time FROM jobs "
                            "ORDER BY sequence",
                            {}, "read the jobs"));
  return Summaries(rows);
}

absl::StatusOr<std::vector<StoredJobSummary>> PostgresJobStore::ListSummaries(v1::JobState state,
                                                                              int64_t before,
                                                                              int limit) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      PgResult rows,
      db_->Run("SELECT sequence, id, state, request_id, end_time FROM jobs "
               "WHERE sequence < $1 AND ($2::integer = 0 OR state = $2::integer) "
               "ORDER BY sequence DESC LIMIT $3",
               PgParams().Int(before).Int(state).Int(limit), "list the jobs"));
  return Summaries(rows);
}

std::vector<StoredJobSummary> PostgresJobStore::Summaries(const PgResult& rows) {
  std::vector<StoredJobSummary> jobs(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    StoredJobSummary& summary = jobs[static_cast<size_t>(i)];
    summary.sequence = rows.Int(i, 0);
    summary.id = std::string(rows.Bytes(i, 1));
    summary.state = static_cast<v1::JobState>(rows.Int(i, 2));
    summary.request_id = std::string(rows.Bytes(i, 3));
    if (!rows.IsNull(i, 4)) summary.end_time = absl::FromUnixNanos(rows.Int(i, 4));
  }
  return jobs;
}

absl::StatusOr<StoredJob> PostgresJobStore::ReadJobWith(int64_t sequence,
                                                         bool checkpoint) const {
  absl::MutexLock lock(&mu_);
  // Chunks are consecutive, so the last one by first_step ends the stored steps (one index
  // probe, however many chunks the job's writes made).
  ASSIGN_OR_RETURN(
      PgResult row,
      db_->Run(absl::StrCat(
                   "SELECT jobs.spec, jobs.job, ",
                   checkpoint ? "checkpoints.checkpoint" : "NULL::bytea",
                   ", (SELECT first_step + octet_length(losses) / 8 - 1 FROM losses "
                   " WHERE job = $1 ORDER BY first_step DESC LIMIT 1)::bigint, jobs.runner "
                   "FROM jobs ",
                   checkpoint ? "LEFT JOIN checkpoints ON checkpoints.job = jobs.sequence " : "",
                   "WHERE jobs.sequence = $1"),
               PgParams().Int(sequence), "read a job"));
  if (row.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("job sequence ", sequence, " is not stored"));
  }
  StoredJob job;
  job.sequence = sequence;
  const std::string_view spec = row.Bytes(0, 0);
  const std::string_view stored = row.Bytes(0, 1);
  if (!job.spec.ParseFromArray(spec.data(), static_cast<int>(spec.size())) ||
      !job.job.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
    return Corrupt(sequence, "job row");
  }
  if (!row.IsNull(0, 2)) {
    const std::string_view checkpoint = row.Bytes(0, 2);
    if (!job.checkpoint.emplace().ParseFromArray(checkpoint.data(),
                                                 static_cast<int>(checkpoint.size()))) {
      return Corrupt(sequence, "checkpoint");
    }
  }
  if (!row.IsNull(0, 3)) job.stored_steps = row.Int(0, 3);
  // The last claim names the runner before the runner's first write does.
  if (!row.Bytes(0, 4).empty()) job.job.set_runner(std::string(row.Bytes(0, 4)));
  return job;
}

absl::StatusOr<int64_t> PostgresJobStore::FindSequence(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT sequence FROM jobs WHERE id = $1",
                                          PgParams().Text(id), "find a job"));
  if (row.rows() == 0) return absl::NotFoundError(absl::StrCat("job ", id, " is not stored"));
  return row.Int(0, 0);
}

absl::StatusOr<store::v1::Model> PostgresJobStore::ReadModel(int64_t sequence) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT model FROM models WHERE job = $1",
                                          PgParams().Int(sequence), "read a model"));
  if (row.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("job sequence ", sequence, " has no stored model"));
  }
  store::v1::Model model;
  const std::string_view bytes = row.Bytes(0, 0);
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corrupt(sequence, "model");
  }
  return model;
}

absl::StatusOr<std::vector<v1::EpochSummary>> PostgresJobStore::ReadEpochs(int64_t sequence,
                                                                     int up_to_epoch) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult rows,
                   db_->Run("SELECT message FROM events WHERE job = $1 AND epoch BETWEEN 1 AND $2 "
                            "ORDER BY ordinal",
                            PgParams().Int(sequence).Int(up_to_epoch), "read epochs"));
  std::vector<v1::EpochSummary> epochs;
  v1::WatchJobResponse message;
  for (int i = 0; i < rows.rows(); ++i) {
    const std::string_view bytes = rows.Bytes(i, 0);
    if (!ParseStoredEvent(bytes, &message) || !message.has_epoch()) {
      return Corrupt(sequence, "epoch summary");
    }
    epochs.push_back(std::move(*message.mutable_epoch()));
  }
  return epochs;
}

absl::StatusOr<StoredHistory> PostgresJobStore::ReadHistory(int64_t sequence, int64_t after_step,
                                                            int64_t max_steps) const {
  DESCENT_CHECK(after_step >= 0 && max_steps >= 0);
  absl::MutexLock lock(&mu_);
  StoredHistory page;
  page.after_step = after_step;
  if (max_steps > 0) {
    // The chunk holding step after_step + 1, then the chunks that start in the page.
    ASSIGN_OR_RETURN(
        PgResult chunks,
        db_->Run("SELECT first_step, losses FROM ("
                 " (SELECT first_step, losses FROM losses WHERE job = $1 AND first_step <= $2"
                 "  ORDER BY first_step DESC LIMIT 1)"
                 " UNION ALL "
                 " (SELECT first_step, losses FROM losses"
                 "  WHERE job = $1 AND first_step > $2 AND first_step <= $3)"
                 ") AS page ORDER BY first_step",
                 PgParams().Int(sequence).Int(after_step + 1).Int(after_step + max_steps),
                 "read losses"));
    int64_t next_step = after_step + 1;
    for (int i = 0; i < chunks.rows(); ++i) {
      if (!AppendLossChunk(chunks.Int(i, 0), chunks.Bytes(i, 1), &next_step, &page.losses)) {
        return Corrupt(sequence, "loss history");
      }
    }
  }
  ASSIGN_OR_RETURN(
      PgResult events,
      db_->Run("SELECT after_step, message FROM events "
               "WHERE job = $1 AND after_step BETWEEN $2 AND $3 ORDER BY after_step, ordinal",
               PgParams().Int(sequence).Int(after_step)
                   .Int(after_step + static_cast<int64_t>(page.losses.size())),
               "read events"));
  for (int i = 0; i < events.rows(); ++i) {
    v1::WatchJobResponse message;
    if (!ParseStoredEvent(events.Bytes(i, 1), &message)) return Corrupt(sequence, "event");
    page.events.push_back(StoredEvent{events.Int(i, 0), std::move(message)});
  }
  return page;
}

absl::Status PostgresJobStore::Delete(const std::vector<int64_t>& sequences) {
  absl::MutexLock lock(&mu_);
  // One array parameter per statement: '{1,2,3}'.
  std::string list = "{";
  for (size_t i = 0; i < sequences.size(); ++i) absl::StrAppend(&list, i == 0 ? "" : ",", sequences[i]);
  list += "}";
  return db_->InTransaction([&]() -> absl::Status {
    for (const char* sql : {"DELETE FROM losses WHERE job = ANY($1::bigint[])",
                            "DELETE FROM events WHERE job = ANY($1::bigint[])",
                            "DELETE FROM checkpoints WHERE job = ANY($1::bigint[])",
                            "DELETE FROM models WHERE job = ANY($1::bigint[])",
                            "DELETE FROM jobs WHERE sequence = ANY($1::bigint[])"}) {
      RETURN_IF_ERROR(db_->Run(sql, PgParams().Text(list), "delete jobs").status());
    }
    return absl::OkStatus();
  }, kBeginAsynchronous);
}

}  // namespace descent::server
