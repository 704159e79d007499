#include "server/store/postgres/postgres_datasets.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "server/store/postgres/postgres_schema.h"

namespace descent::server {
namespace {

// A dataset's metadata and its names in order, joined by ',' (which no name may hold).
constexpr char kDatasetColumns[] =
    "SELECT d.metadata, COALESCE((SELECT string_agg(n.name, ',' ORDER BY n.ordinal) "
    "FROM dataset_names n WHERE n.dataset = d.id), '') FROM datasets d";
// The content a reference names: a name's, else the reference itself as an id (names never
// start with "ds-", ids always do).
constexpr char kReferencedId[] =
    "COALESCE((SELECT dataset FROM dataset_names WHERE name = $1), $1)";

// The connection takes std::string_view; this Abseil's string_view is its own type.
std::string_view Std(absl::string_view text) { return {text.data(), text.size()}; }
absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresDatasets>> PostgresDatasets::Open(
    const std::string& url, absl::Duration retry_for) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Connect(url, retry_for));
  RETURN_IF_ERROR(PrepareSchema(*db));
  return std::unique_ptr<PostgresDatasets>(new PostgresDatasets(std::move(db)));
}

absl::StatusOr<std::vector<v1::Dataset>> PostgresDatasets::Datasets(const PgResult& rows) const {
  std::vector<v1::Dataset> datasets(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    v1::Dataset& dataset = datasets[static_cast<size_t>(i)];
    const std::string_view metadata = rows.Bytes(i, 0);
    if (!dataset.ParseFromArray(metadata.data(), static_cast<int>(metadata.size()))) {
      return absl::DataLossError(absl::StrCat("the job store ", db_->location(),
                                              " holds malformed metadata of a dataset; delete "
                                              "the row from its datasets table and upload the "
                                              "file again"));
    }
    const std::string_view names = rows.Bytes(i, 1);
    if (!names.empty()) {
      for (absl::string_view name : absl::StrSplit(Absl(names), ',')) dataset.add_names(std::string(name));
    }
    RefreshDatasetName(dataset);
  }
  return datasets;
}

absl::StatusOr<v1::Dataset> PostgresDatasets::FindLocked(absl::string_view id_or_name,
                                                         bool lock) const {
  const PgParams reference = PgParams().Text(Std(id_or_name));
  if (lock) {
    ASSIGN_OR_RETURN(PgResult locked,
                     db_->Run(absl::StrCat("SELECT id FROM datasets WHERE id = ", kReferencedId,
                                           " FOR UPDATE"),
                              reference, "lock a dataset"));
    if (locked.rows() == 0) return DatasetNotFound(id_or_name);
  }
  ASSIGN_OR_RETURN(PgResult row,
                   db_->Run(absl::StrCat(kDatasetColumns, " WHERE d.id = ", kReferencedId),
                            reference, "read a dataset"));
  ASSIGN_OR_RETURN(std::vector<v1::Dataset> found, Datasets(row));
  if (found.empty()) return DatasetNotFound(id_or_name);
  return std::move(found.front());
}

absl::StatusOr<PutResult> PostgresDatasets::Put(const v1::Dataset& dataset,
                                                absl::string_view name,
                                                absl::string_view bytes) {
  absl::MutexLock lock(&mu_);
  v1::Dataset metadata = dataset;
  metadata.clear_names();
  metadata.clear_name();
  PutResult result;
  RETURN_IF_ERROR(db_->InTransaction([&]() -> absl::Status {
    // The same bytes stored at once by two replicas: the second waits for the first's row and
    // updates it (changing nothing), so both go on with one row. A row being deleted is waited
    // for too, and inserted again once the delete commits. xmax = 0 tells an inserted row.
    ASSIGN_OR_RETURN(
        PgResult stored,
        db_->Run("INSERT INTO datasets (id, metadata, bytes) VALUES ($1, $2, $3) "
                 "ON CONFLICT (id) DO UPDATE SET metadata = datasets.metadata "
                 "RETURNING (xmax = 0)::integer",
                 PgParams().Text(dataset.id()).Bytes(metadata.SerializeAsString()).Bytes(Std(bytes)),
                 "store a dataset"));
    result.already_stored = stored.Int(0, 0) == 0;
    if (!name.empty()) {
      ASSIGN_OR_RETURN(PgResult named,
                       db_->Run("INSERT INTO dataset_names (name, dataset) VALUES ($1, $2) "
                                "ON CONFLICT (name) DO NOTHING RETURNING 1",
                                PgParams().Text(Std(name)).Text(dataset.id()), "name a dataset"));
      if (named.rows() == 0) {
        ASSIGN_OR_RETURN(PgResult owner,
                         db_->Run("SELECT dataset FROM dataset_names WHERE name = $1",
                                  PgParams().Text(Std(name)), "find a dataset name"));
        if (owner.rows() == 0) {
          return absl::AbortedError(absl::StrCat("header.name \"", name,
                                                 "\" was removed while this upload named it; "
                                                 "upload the file again"));
        }
        if (owner.Bytes(0, 0) != dataset.id()) return DatasetNameTaken(name, Absl(owner.Bytes(0, 0)));
      }
    }
    ASSIGN_OR_RETURN(result.dataset, FindLocked(dataset.id(), /*lock=*/false));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<v1::Dataset> PostgresDatasets::Get(absl::string_view id_or_name) const {
  absl::MutexLock lock(&mu_);
  return FindLocked(id_or_name, /*lock=*/false);
}

absl::StatusOr<std::vector<v1::Dataset>> PostgresDatasets::List() const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult rows, db_->Run(kDatasetColumns, {}, "list the datasets"));
  ASSIGN_OR_RETURN(std::vector<v1::Dataset> datasets, Datasets(rows));
  std::sort(datasets.begin(), datasets.end(), NewerDatasetFirst);
  return datasets;
}

absl::StatusOr<DeleteResult> PostgresDatasets::Delete(
    absl::string_view id_or_name,
    const std::function<absl::Status(const v1::Dataset&)>& may_delete) {
  absl::MutexLock lock(&mu_);
  DeleteResult result;
  RETURN_IF_ERROR(db_->InTransaction([&]() -> absl::Status {
    result = DeleteResult();
    // Locked until the commit: an upload adding a name to this content waits, and finds the
    // content gone (and stores it again) or its names as this call left them.
    ASSIGN_OR_RETURN(result.dataset, FindLocked(id_or_name, /*lock=*/true));
    const v1::Dataset& dataset = result.dataset;
    if (id_or_name != dataset.id() && dataset.names_size() > 1) {
      // One alias of several: the content stays under the others.
      RETURN_IF_ERROR(db_->Run("DELETE FROM dataset_names WHERE name = $1",
                               PgParams().Text(Std(id_or_name)), "remove a dataset name")
                          .status());
      for (const std::string& name : dataset.names()) {
        if (name != id_or_name) result.remaining_names.push_back(name);
      }
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(may_delete(dataset));
    // Its names go with it (ON DELETE CASCADE).
    return db_->Run("DELETE FROM datasets WHERE id = $1", PgParams().Text(dataset.id()),
                    "delete a dataset")
        .status();
  }));
  return result;
}

absl::StatusOr<std::string> PostgresDatasets::ReadBytes(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(PgResult row, db_->Run("SELECT bytes FROM datasets WHERE id = $1",
                                          PgParams().Text(Std(id)), "read a dataset"));
  if (row.rows() == 0) return DatasetNotFound(id);
  return std::string(row.Bytes(0, 0));
}

}  // namespace descent::server
