#include "server/store/dataset_backend.h"

#include "absl/strings/str_cat.h"

namespace descent::server {

absl::Status DatasetNotFound(absl::string_view id_or_name) {
  return absl::NotFoundError(absl::StrCat("no dataset has id or name \"", id_or_name,
                                          "\"; `descent datasets` lists them"));
}

absl::Status DatasetNameTaken(absl::string_view name, absl::string_view other_id) {
  return absl::AlreadyExistsError(
      absl::StrCat("header.name \"", name, "\" is taken by dataset ", other_id,
                   " with other content; choose another name, or remove that name first "
                   "(`descent dataset rm ", name, "`)"));
}

void RefreshDatasetName(v1::Dataset& dataset) {
  dataset.set_name(dataset.names().empty() ? dataset.id() : dataset.names(0));
}

bool NewerDatasetFirst(const v1::Dataset& a, const v1::Dataset& b) {
  if (a.create_time().seconds() != b.create_time().seconds()) {
    return a.create_time().seconds() > b.create_time().seconds();
  }
  if (a.create_time().nanos() != b.create_time().nanos()) {
    return a.create_time().nanos() > b.create_time().nanos();
  }
  return a.id() < b.id();
}

}  // namespace descent::server
