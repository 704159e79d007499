#include "client/dataset_commands.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/output.h"

namespace descent::client {
namespace {

std::string ColumnSummary(const v1::Column& column) {
  if (column.type() == v1::TEXT) {
    std::vector<std::string> shown(column.categories().begin(),
                                   column.categories().begin() +
                                       std::min(column.categories_size(), 5));
    return absl::StrCat("text, ", column.categories_size(), " values (",
                        absl::StrJoin(shown, ", "), column.categories_size() > 5 ? ", ..." : "",
                        ")");
  }
  return column.distinct_values() > 1000
             ? std::string("numeric")
             : absl::StrCat("numeric, ", column.distinct_values(), " distinct values");
}

// "iris, iris2": every name of the content, or its id when it has none.
std::string Names(const v1::Dataset& dataset, absl::string_view separator = ", ") {
  return dataset.names().empty() ? dataset.name() : absl::StrJoin(dataset.names(), separator);
}

std::string CreateTime(const v1::Dataset& dataset) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixSeconds(dataset.create_time().seconds()),
                          absl::LocalTimeZone());
}

}  // namespace

std::string DefaultDatasetName(const std::string& path) {
  std::string name = std::filesystem::path(path).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  if (name.rfind("ds-", 0) == 0) name[2] = '_';  // "ds-" is kept for ids
  return name.substr(0, 128);
}

int RunUpload(const CommandContext& ctx, DatasetClient& datasets, const std::string& path,
              const std::string& name) {
  const std::string chosen = name.empty() ? DefaultDatasetName(path) : name;
  absl::StatusOr<v1::UploadDatasetResponse> response = datasets.Upload(path, chosen);
  if (!response.ok()) {
    if (response.status().code() == absl::StatusCode::kInvalidArgument) {
      *ctx.err << "descent: " << path << ": " << response.status().message() << "\n";
      return kExitUsage;
    }
    return ReportError(ctx, response.status());
  }
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*response) << "\n" << std::flush;
    return kExitOk;
  }
  const v1::Dataset& dataset = response->dataset();
  *ctx.out << (response->already_stored() ? "already stored as " : "uploaded ") << Names(dataset)
           << " (" << dataset.id() << "): " << dataset.rows() << " rows, "
           << dataset.columns_size() << " columns\n";
  for (const v1::Column& column : dataset.columns()) {
    *ctx.out << "  " << column.name() << ": " << ColumnSummary(column) << "\n";
  }
  *ctx.out << "train on it with \"dataset\": {\"name\": \"" << chosen
           << "\", \"targets\": [\""
           << (dataset.columns_size() > 0 ? dataset.columns(dataset.columns_size() - 1).name() : "")
           << "\"]} in a job spec\n"
           << std::flush;
  return kExitOk;
}

int RunDatasets(const CommandContext& ctx, DatasetClient& datasets) {
  absl::StatusOr<std::vector<v1::Dataset>> list = datasets.List();
  if (!list.ok()) return ReportError(ctx, list.status());
  if (ctx.format == OutputFormat::kJson) {
    for (const v1::Dataset& dataset : *list) *ctx.out << ToJson(dataset) << "\n";  // as `list`
    *ctx.out << std::flush;
    return kExitOk;
  }
  if (list->empty()) {
    *ctx.out << "no datasets; upload one with `descent upload FILE.csv`\n" << std::flush;
    return kExitOk;
  }
  size_t name_width = 5;
  for (const v1::Dataset& dataset : *list) {
    name_width = std::max(name_width, Names(dataset, ",").size());
  }
  *ctx.out << absl::StrFormat("%-*s  %-19s  %8s  %7s  %10s  %s\n", name_width, "NAMES", "ID",
                              "ROWS", "COLUMNS", "BYTES", "CREATED");
  for (const v1::Dataset& dataset : *list) {
    *ctx.out << absl::StrFormat("%-*s  %-19s  %8d  %7d  %10d  %s\n", name_width,
                                Names(dataset, ","), dataset.id(), dataset.rows(),
                                dataset.columns_size(), dataset.size_bytes(), CreateTime(dataset));
  }
  *ctx.out << std::flush;
  return kExitOk;
}

int RunDatasetRemove(const CommandContext& ctx, DatasetClient& datasets,
                     const std::string& id_or_name) {
  absl::StatusOr<v1::DeleteDatasetResponse> deleted = datasets.Delete(id_or_name);
  if (!deleted.ok()) return ReportError(ctx, deleted.status());
  const v1::Dataset& dataset = deleted->dataset();
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*deleted) << "\n";
  } else if (deleted->remaining_names().empty()) {
    *ctx.out << "deleted " << Names(dataset) << " (" << dataset.id() << ")\n";
  } else {
    *ctx.out << "removed the name " << id_or_name << "; the content (" << dataset.id()
             << ") stays as " << absl::StrJoin(deleted->remaining_names(), ", ") << "\n";
  }
  *ctx.out << std::flush;
  return kExitOk;
}

}  // namespace descent::client
