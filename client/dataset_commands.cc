#include "client/dataset_commands.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/csv_records.h"
#include "client/input_files.h"
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

bool AllNumbers(const CsvRecord& record) {
  for (const std::string& field : record) {
    float ignored;
    if (!absl::SimpleAtof(field, &ignored)) return false;
  }
  return true;
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
    for (const v1::Dataset& dataset : *list) *ctx.out << ToJson(dataset) << "\n";
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

int RunPredictCsv(const CommandContext& ctx, const std::string& job_id,
                  const std::string& input_file) {
  auto usage = [&](const std::string& message) {
    *ctx.err << "descent: " << input_file << ": " << message << "\n";
    return kExitUsage;
  };
  absl::StatusOr<std::string> text = ReadFile(input_file);
  if (!text.ok()) {
    *ctx.err << "descent: " << text.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::vector<CsvRecord>> records = ReadCsvRecords(*text, input_file);
  if (!records.ok()) {
    *ctx.err << "descent: " << records.status().message() << "\n";
    return kExitUsage;
  }
  if (records->empty()) return usage("no rows to predict");
  absl::StatusOr<v1::Job> job = ctx.client->GetJob(job_id);
  if (!job.ok()) return ReportError(ctx, job.status());

  // Which columns are the features: by name when the header has the model's feature names.
  const auto& features = job->spec().dataset().resolved().feature_names();
  const bool has_header = !AllNumbers(records->front());
  std::vector<int> columns;
  if (has_header && !features.empty()) {
    const CsvRecord& header = records->front();
    for (const std::string& feature : features) {
      auto at = std::find(header.begin(), header.end(), feature);
      if (at == header.end()) {
        return usage(absl::StrCat("the header has no column \"", feature,
                                  "\"; the model's features are: ", absl::StrJoin(features, ", ")));
      }
      columns.push_back(static_cast<int>(at - header.begin()));
    }
  } else {
    for (size_t c = 0; c < records->front().size(); ++c) columns.push_back(static_cast<int>(c));
  }
  const size_t first_row = has_header ? 1 : 0;
  if (records->size() <= first_row) return usage("no rows to predict, only a header");

  v1::Matrix inputs;
  inputs.set_rows(static_cast<int>(records->size() - first_row));
  inputs.set_cols(static_cast<int>(columns.size()));
  for (size_t r = first_row; r < records->size(); ++r) {
    const CsvRecord& record = (*records)[r];
    if (record.size() != records->front().size()) {
      return usage(absl::StrCat("row ", r + 1, " has ", record.size(), " fields, the first has ",
                                records->front().size()));
    }
    for (int c : columns) {
      float value;
      if (!absl::SimpleAtof(record[c], &value)) {
        return usage(absl::StrCat("row ", r + 1, ", column ", c + 1, ": \"", record[c],
                                  "\" is not a number"));
      }
      inputs.add_values(value);
    }
  }
  absl::StatusOr<v1::PredictResponse> response = ctx.client->Predict(job_id, inputs);
  if (!response.ok()) return ReportError(ctx, response.status());
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*response) << "\n" << std::flush;
    return kExitOk;
  }

  // The appended columns: the predicted class (its name when known) and its probability,
  // or the predicted value(s).
  const v1::Matrix& outputs = response->outputs();
  const bool classifier = response->classes_size() == outputs.rows() && outputs.rows() > 0;
  const auto& targets = job->spec().dataset().targets();
  std::vector<std::string> added;
  if (classifier) {
    added = {targets.size() == 1 ? absl::StrCat("predicted_", targets[0]) : "prediction",
             "probability"};
  } else if (outputs.cols() == 1) {
    added = {targets.size() == 1 ? absl::StrCat("predicted_", targets[0]) : "prediction"};
  } else {
    for (int c = 0; c < outputs.cols(); ++c) {
      added.push_back(targets.size() == outputs.cols() ? absl::StrCat("predicted_", targets[c])
                                                       : absl::StrCat("prediction_", c + 1));
    }
  }
  if (has_header) {
    CsvRecord header = records->front();
    header.insert(header.end(), added.begin(), added.end());
    *ctx.out << WriteCsvRecord(header) << "\n";
  }
  for (int r = 0; r < outputs.rows(); ++r) {
    CsvRecord row = (*records)[first_row + r];
    const float* values = outputs.values().data() + static_cast<size_t>(r) * outputs.cols();
    if (classifier) {
      const int cls = response->classes(r);
      row.push_back(response->class_names_size() == outputs.rows() ? response->class_names(r)
                                                                    : absl::StrCat(cls));
      const float probability =
          outputs.cols() == 1 ? (cls == 1 ? values[0] : 1 - values[0]) : values[cls];
      row.push_back(absl::StrFormat("%.4f", probability));
    } else {
      for (int c = 0; c < outputs.cols(); ++c) row.push_back(absl::StrFormat("%.6g", values[c]));
    }
    *ctx.out << WriteCsvRecord(row) << "\n";
  }
  *ctx.out << std::flush;
  return kExitOk;
}

}  // namespace descent::client
