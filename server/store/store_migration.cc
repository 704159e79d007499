#include "server/store/store_migration.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/store/legacy_blobs.h"
#include "server/store/sqlite_statement.h"
#include "server/store/stored_rows.h"

namespace descent::server {
namespace {

// Sets `*problem` to `status` with the job named, and asks for a rollback.
int Abort(absl::Status* problem, int64_t sequence, const absl::Status& status) {
  *problem = absl::DataLossError(absl::StrCat("job sequence ", sequence,
                                              " cannot be migrated from store version 1: ",
                                              status.message()));
  return SQLITE_ABORT;
}

}  // namespace

int MigrateFromVersion1(sqlite3* db, const char* schema, absl::Status* problem) {
  for (const char* sql : {"ALTER TABLE jobs RENAME TO jobs_version1", schema}) {
    if (const int code = sqlite3_exec(db, sql, nullptr, nullptr, nullptr); code != SQLITE_OK) {
      return code;
    }
  }
  Statement rows(db, "SELECT sequence, id, state, spec, job, model FROM jobs_version1");
  Statement insert(db,
                   "INSERT INTO jobs (sequence, id, state, request_id, end_time, job, spec) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  Statement insert_model(db, "INSERT INTO models (job, model) VALUES (?1, ?2)");
  v1::Job job;
  while (rows.Next()) {
    const int64_t sequence = rows.Int(0);
    const std::string_view row = rows.Blob(4);
    if (!job.ParseFromArray(row.data(), static_cast<int>(row.size()))) {
      return Abort(problem, sequence, absl::DataLossError("its job row does not parse"));
    }
    const std::optional<int64_t> end_time = EndTimeColumn(job);
    insert.Bind(1, sequence).Bind(2, rows.Blob(1)).Bind(3, rows.Int(2)).Bind(4, job.request_id());
    if (end_time) {
      insert.Bind(5, *end_time);
    } else {
      insert.BindNull(5);
    }
    insert.BindBlob(6, row).BindBlob(7, rows.Blob(3));
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
    if (rows.IsNull(5)) continue;
    absl::StatusOr<store::v1::Model> model = DecodeVersion1Model(rows.Blob(5));
    if (!model.ok()) return Abort(problem, sequence, model.status());
    insert_model.Bind(1, sequence).BindBlob(2, model->SerializeAsString());
    if (const int code = insert_model.Run(); code != SQLITE_OK) return code;
  }
  if (!rows.ok()) return rows.code();
  // Read first, then rewritten: a table is not changed under an open scan of it.
  std::vector<std::pair<int64_t, std::string>> checkpoints;
  {
    Statement stored(db, "SELECT job, checkpoint FROM checkpoints");
    while (stored.Next()) checkpoints.emplace_back(stored.Int(0), std::string(stored.Blob(1)));
    if (!stored.ok()) return stored.code();
  }
  Statement update(db, "UPDATE checkpoints SET checkpoint = ?2 WHERE job = ?1");
  for (const auto& [sequence, bytes] : checkpoints) {
    absl::StatusOr<store::v1::Checkpoint> checkpoint = DecodeVersion1Checkpoint(bytes);
    if (!checkpoint.ok()) return Abort(problem, sequence, checkpoint.status());
    update.Bind(1, sequence).BindBlob(2, checkpoint->SerializeAsString());
    if (const int code = update.Run(); code != SQLITE_OK) return code;
  }
  const std::string version = absl::StrCat("PRAGMA user_version = ", kStoreVersion);
  for (const char* sql : {"DROP TABLE jobs_version1", version.c_str()}) {
    if (const int code = sqlite3_exec(db, sql, nullptr, nullptr, nullptr); code != SQLITE_OK) {
      return code;
    }
  }
  return SQLITE_OK;
}

}  // namespace descent::server
