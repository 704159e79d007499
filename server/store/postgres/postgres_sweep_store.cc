#include "server/store/postgres/postgres_sweep_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace descent::server {

absl::Status PostgresSweepStore::Corrupt(const std::string& id, const char* what) const {
  return absl::DataLossError(absl::StrCat("the job store ", db_->location(), " holds a malformed ",
                                          what, " for sweep ", id,
                                          "; delete the sweep's rows or restore the database"));
}

absl::Status PostgresSweepStore::InsertEventsLocked(const SweepWrite& write) {
  for (const v1::TrialEvent& event : write.events) {
    RETURN_IF_ERROR(db_->Run("INSERT INTO sweep_events (sweep, sequence, event) VALUES ($1, $2, $3)",
                             PgParams().Text(write.sweep.id()).Int(event.sequence())
                                 .Bytes(event.SerializeAsString()),
                             "store a sweep's events")
                        .status());
  }
  return absl::OkStatus();
}

absl::Status PostgresSweepStore::InsertSweep(const SweepWrite& write) {
  absl::MutexLock lock(&mu_);
  const absl::Status inserted = db_->InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(db_->Run("INSERT INTO sweeps (id, state, sweep) VALUES ($1, $2, $3)",
                             PgParams().Text(write.sweep.id()).Int(write.sweep.state())
                                 .Bytes(write.sweep.SerializeAsString()),
                             "insert a sweep")
                        .status());
    return InsertEventsLocked(write);
  });
  if (absl::IsAlreadyExists(inserted)) {
    return absl::AlreadyExistsError(absl::StrCat("sweep ", write.sweep.id(), " is stored already"));
  }
  return inserted;
}

absl::Status PostgresSweepStore::WriteSweep(const SweepWrite& write) {
  absl::MutexLock lock(&mu_);
  return db_->InTransaction([&]() -> absl::Status {
    // First, so the row stays locked until the commit: a claim waits for this write to end.
    ASSIGN_OR_RETURN(PgResult updated,
                     db_->Run("UPDATE sweeps SET state = $2, sweep = $3 "
                              "WHERE id = $1 AND lease_token = $4",
                              PgParams().Text(write.sweep.id()).Int(write.sweep.state())
                                  .Bytes(write.sweep.SerializeAsString()).Int(write.lease_token),
                              "update a sweep"));
    if (updated.affected() == 0) {
      ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT 1 FROM sweeps WHERE id = $1",
                                              PgParams().Text(write.sweep.id()), "find a sweep"));
      if (row.rows() == 0) {
        return absl::NotFoundError(absl::StrCat("sweep ", write.sweep.id(), " is not stored"));
      }
      return SweepLeaseLostError(write.sweep.id());
    }
    return InsertEventsLocked(write);
  });
}

absl::StatusOr<std::vector<v1::Sweep>> PostgresSweepStore::LoadSweeps() const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult rows, db_->Run("SELECT id, sweep FROM sweeps ORDER BY ordinal", {},
                                           "read the sweeps"));
  std::vector<v1::Sweep> sweeps(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    const std::string_view bytes = rows.Bytes(i, 1);
    if (!sweeps[static_cast<size_t>(i)].ParseFromArray(bytes.data(),
                                                       static_cast<int>(bytes.size()))) {
      return Corrupt(std::string(rows.Bytes(i, 0)), "sweep row");
    }
  }
  return sweeps;
}

absl::StatusOr<v1::Sweep> PostgresSweepStore::ReadSweep(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT sweep FROM sweeps WHERE id = $1",
                                          PgParams().Text(id), "read a sweep"));
  if (row.rows() == 0) return absl::NotFoundError(absl::StrCat("sweep ", id, " is not stored"));
  v1::Sweep sweep;
  const std::string_view bytes = row.Bytes(0, 0);
  if (!sweep.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corrupt(id, "sweep row");
  }
  return sweep;
}

absl::StatusOr<std::vector<v1::TrialEvent>> PostgresSweepStore::ReadSweepEvents(
    const std::string& id, int64_t after) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult rows,
                   db_->Run("SELECT event FROM sweep_events WHERE sweep = $1 AND sequence > $2 "
                            "ORDER BY sequence",
                            PgParams().Text(id).Int(after), "read a sweep's events"));
  std::vector<v1::TrialEvent> events(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    const std::string_view bytes = rows.Bytes(i, 0);
    if (!events[static_cast<size_t>(i)].ParseFromArray(bytes.data(),
                                                       static_cast<int>(bytes.size()))) {
      return Corrupt(id, "trial event");
    }
  }
  return events;
}

absl::StatusOr<std::optional<SweepLease>> PostgresSweepStore::ClaimSweep(
    const LeaseHolder& holder, const std::optional<std::string>& only) {
  absl::MutexLock lock(&mu_);
  // As PostgresJobStore::Claim: one statement, the database's clock, rows other replicas
  // are claiming skipped; a lease held by an earlier process at this address is free.
  PgParams params;
  params.Text(holder.runner).Int(holder.instance)
      .Int(absl::ToInt64Milliseconds(holder.timeout)).Int(v1::SWEEP_RUNNING);
  if (only) params.Text(*only);
  ASSIGN_OR_RETURN(
      PgResult claimed,
      db_->Run(absl::StrCat(
                   "UPDATE sweeps SET runner = $1, lease_instance = $2, "
                   "lease_token = sweeps.lease_token + 1, "
                   "lease_expires = now() + $3::bigint * interval '1 millisecond' "
                   "FROM (SELECT ordinal FROM sweeps WHERE state = $4 AND "
                   "(lease_expires IS NULL OR lease_expires < now() OR "
                   "(runner = $1 AND lease_instance <> $2))",
                   only ? " AND id = $5" : "",
                   " ORDER BY ordinal LIMIT 1 FOR UPDATE SKIP LOCKED) AS next "
                   "WHERE sweeps.ordinal = next.ordinal "
                   "RETURNING sweeps.id, sweeps.lease_token"),
               params, "claim a sweep"));
  if (claimed.rows() == 0) return std::nullopt;
  return SweepLease{std::string(claimed.Bytes(0, 0)), claimed.Int(0, 1)};
}

absl::StatusOr<bool> PostgresSweepStore::RenewSweepLease(const std::string& id, int64_t token,
                                                         absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      PgResult renewed,
      db_->Run("UPDATE sweeps SET lease_expires = now() + $3::bigint * interval '1 millisecond' "
               "WHERE id = $1 AND lease_token = $2 RETURNING cancel_requested::integer",
               PgParams().Text(id).Int(token).Int(absl::ToInt64Milliseconds(timeout)),
               "renew a sweep's lease"));
  if (renewed.rows() == 0) return SweepLeaseLostError(id);
  return renewed.Int(0, 0) != 0;
}

absl::StatusOr<v1::SweepState> PostgresSweepStore::RequestSweepCancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult requested,
                   db_->Run("UPDATE sweeps SET cancel_requested = true WHERE id = $1 AND "
                            "state = $2 RETURNING state",
                            PgParams().Text(id).Int(v1::SWEEP_RUNNING), "request a sweep's cancel"));
  if (requested.rows() > 0) return v1::SWEEP_RUNNING;
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT state FROM sweeps WHERE id = $1",
                                          PgParams().Text(id), "find a sweep"));
  if (row.rows() == 0) return absl::NotFoundError(absl::StrCat("no sweep ", id));
  return static_cast<v1::SweepState>(row.Int(0, 0));
}

absl::Status PostgresSweepStore::ReleaseSweepLease(const std::string& id, int64_t token) {
  absl::MutexLock lock(&mu_);
  return db_->Run("UPDATE sweeps SET lease_expires = NULL WHERE id = $1 AND lease_token = $2",
                  PgParams().Text(id).Int(token), "release a sweep's lease")
      .status();
}

}  // namespace descent::server
