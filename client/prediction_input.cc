#include "client/prediction_input.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace descent::client {
namespace {

using ::absl::StrCat;
using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

absl::Status Invalid(const std::string& source, const std::string& message) {
  return absl::InvalidArgumentError(StrCat(source, ": ", message));
}

bool AllNumbers(const base::CsvRecord& record) {
  for (const std::string& field : record) {
    double ignored;
    if (!absl::SimpleAtod(field, &ignored)) return false;
  }
  return true;
}

absl::StatusOr<PredictionInput> ParseCsv(const std::string& text, const std::string& source,
                                         const PredictionInputOptions& options) {
  PredictionInput input;
  input.csv = true;
  input.has_header = options.header;
  absl::StatusOr<std::vector<base::CsvRecord>> records = base::ReadCsvRecords(text);
  if (!records.ok()) return Invalid(source, std::string(records.status().message()));
  input.records = *std::move(records);
  if (input.records.empty()) return Invalid(source, "no rows to predict");
  const base::CsvRecord& first = input.records.front();
  if (input.has_header && AllNumbers(first)) {
    return Invalid(source,
                   "the first line holds only numbers, not column names; add a header line "
                   "naming the columns as in training, or pass --no-header to send every "
                   "column in the model's feature order");
  }
  const size_t first_row = input.has_header ? 1 : 0;
  if (input.records.size() <= first_row)
    return Invalid(source, "no rows to predict, only a header");

  std::vector<size_t> sent;  // the columns that go to the server
  for (size_t c = 0; c < first.size(); ++c) {
    const bool kept =
        input.has_header && std::find(options.kept_columns.begin(), options.kept_columns.end(),
                                      first[c]) != options.kept_columns.end();
    if (kept) continue;
    sent.push_back(c);
    if (input.has_header) input.column_names.push_back(first[c]);
  }
  if (sent.empty()) {
    return Invalid(source, StrCat("no feature columns: ", absl::StrJoin(first, ", "),
                                  " are the job's targets"));
  }
  input.inputs.set_rows(static_cast<int>(input.records.size() - first_row));
  input.inputs.set_cols(static_cast<int>(sent.size()));
  for (size_t r = first_row; r < input.records.size(); ++r) {
    const base::CsvRecord& record = input.records[r];
    if (record.size() != first.size()) {
      return Invalid(source, StrCat("row ", r + 1, " has ", record.size(), " fields but ",
                                    input.has_header ? "the header has " : "row 1 has ",
                                    first.size(), "; every row needs one value per column"));
    }
    for (size_t c : sent) {
      float value;
      if (!absl::SimpleAtof(record[c], &value)) {
        return Invalid(source, StrCat("row ", r + 1, ", column ", c + 1,
                                      input.has_header ? StrCat(" (", first[c], ")") : "", ": \"",
                                      record[c], "\" is not a number",
                                      r == 0 ? " (a header line? then drop --no-header)" : ""));
      }
      input.inputs.add_values(value);
    }
  }
  return input;
}

// A JSON number as a float; one beyond float's range is refused rather than cast (which
// is undefined behaviour).
absl::Status AddNumber(double number, const std::string& where, v1::Matrix& inputs) {
  if (std::isfinite(number) && std::fabs(number) > std::numeric_limits<float>::max()) {
    return absl::InvalidArgumentError(StrCat(where, " is ", number, ", beyond a float's range"));
  }
  inputs.add_values(static_cast<float>(number));
  return absl::OkStatus();
}

// One JSON row in the model's order: [1, 2, ...].
absl::Status AddListRow(const ListValue& row, const std::string& where, v1::Matrix& inputs) {
  if (row.values_size() != inputs.cols()) {
    return absl::InvalidArgumentError(StrCat(where, " has ", row.values_size(),
                                             " values but the first row has ", inputs.cols(),
                                             "; every row needs one value per feature"));
  }
  for (int i = 0; i < row.values_size(); ++i) {
    if (row.values(i).kind_case() != Value::kNumberValue) {
      return absl::InvalidArgumentError(StrCat(where, "[", i, "] must be a number"));
    }
    RETURN_IF_ERROR(AddNumber(row.values(i).number_value(), StrCat(where, "[", i, "]"), inputs));
  }
  return absl::OkStatus();
}

// One JSON row by name: {"x": 1, ...}, with the keys `names` (and kept ones) and no others.
absl::Status AddObjectRow(const Struct& row, const std::string& where,
                          const std::vector<std::string>& names,
                          const std::set<std::string>& kept, v1::Matrix& inputs) {
  for (const auto& [key, value] : row.fields()) {
    if (!kept.contains(key) && std::find(names.begin(), names.end(), key) == names.end()) {
      return absl::InvalidArgumentError(StrCat(where, " has \"", key,
                                               "\", which the first row has not; every row "
                                               "needs the same keys"));
    }
  }
  for (const std::string& name : names) {
    auto cell = row.fields().find(name);
    if (cell == row.fields().end()) {
      return absl::InvalidArgumentError(
          StrCat(where, " has no \"", name, "\"; every row needs the same keys"));
    }
    if (cell->second.kind_case() != Value::kNumberValue) {
      return absl::InvalidArgumentError(StrCat(where, ".", name, " must be a number"));
    }
    RETURN_IF_ERROR(AddNumber(cell->second.number_value(), StrCat(where, ".", name), inputs));
  }
  return absl::OkStatus();
}

absl::StatusOr<PredictionInput> JsonRows(const ListValue& rows, const std::string& source,
                                         const std::string& path,
                                         const PredictionInputOptions& options) {
  PredictionInput input;
  if (rows.values_size() == 0) return Invalid(source, "no rows to predict");
  const Value& first = rows.values(0);
  const bool named = first.kind_case() == Value::kStructValue;
  if (!named && first.kind_case() != Value::kListValue) {
    return Invalid(source, StrCat(path,
                                  "[0] must be a list of numbers or an object of "
                                  "feature names and numbers"));
  }
  const std::set<std::string> kept(options.kept_columns.begin(),
                                              options.kept_columns.end());
  if (named) {
    for (const auto& [key, value] : first.struct_value().fields()) {
      if (!kept.contains(key)) input.column_names.push_back(key);
    }
    // The map has no order; sorted names make the request the same on every run.
    std::sort(input.column_names.begin(), input.column_names.end());
    input.inputs.set_cols(static_cast<int>(input.column_names.size()));
  } else {
    input.inputs.set_cols(first.list_value().values_size());
  }
  if (input.inputs.cols() == 0) return Invalid(source, StrCat(path, "[0] holds no features"));
  input.inputs.set_rows(rows.values_size());
  for (int r = 0; r < rows.values_size(); ++r) {
    const Value& row = rows.values(r);
    const std::string where = StrCat(source, ": ", path, "[", r, "]");
    if (row.kind_case() != (named ? Value::kStructValue : Value::kListValue)) {
      return absl::InvalidArgumentError(
          StrCat(where, " must be ", named ? "an object like" : "a list like", " the first row"));
    }
    RETURN_IF_ERROR(
        named ? AddObjectRow(row.struct_value(), where, input.column_names, kept, input.inputs)
              : AddListRow(row.list_value(), where, input.inputs));
  }
  return input;
}

absl::StatusOr<PredictionInput> ParseJson(const std::string& text, const std::string& source,
                                          const PredictionInputOptions& options) {
  Value root;
  const auto parsed = google::protobuf::util::JsonStringToMessage(text, &root);
  if (!parsed.ok()) {
    return Invalid(source, StrCat("not valid JSON (", parsed.message().as_string(), ")"));
  }
  if (root.kind_case() == Value::kListValue) {
    return JsonRows(root.list_value(), source, "", options);
  }
  if (root.kind_case() == Value::kStructValue) {
    const auto& fields = root.struct_value().fields();
    auto rows = fields.find("rows");
    if (rows != fields.end() && rows->second.kind_case() == Value::kListValue) {
      return JsonRows(rows->second.list_value(), source, "rows", options);
    }
    if (rows != fields.end() && rows->second.kind_case() == Value::kNumberValue) {
      PredictionInput input;
      const auto status = google::protobuf::util::JsonStringToMessage(text, &input.inputs);
      if (!status.ok()) {
        return Invalid(source, StrCat("not a Matrix {\"rows\", \"cols\", \"values\"} (",
                                      status.message().as_string(), ")"));
      }
      const int64_t expected = static_cast<int64_t>(input.inputs.rows()) * input.inputs.cols();
      if (input.inputs.rows() <= 0 || input.inputs.cols() <= 0 ||
          expected != input.inputs.values_size()) {
        return Invalid(source, StrCat("values must hold rows * cols = ", expected, " numbers (got ",
                                      input.inputs.values_size(), ")"));
      }
      return input;
    }
  }
  return Invalid(source,
                 "expected [[...], ...], [{\"feature\": value, ...}, ...], {\"rows\": [...]} or "
                 "{\"rows\": N, \"cols\": D, \"values\": [...]}");
}

}  // namespace

absl::StatusOr<PredictionInput> ParsePredictionInput(const std::string& text,
                                                     const std::string& source,
                                                     const PredictionInputOptions& options) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return Invalid(source, "the input is empty");
  if (text[first] == '[' || text[first] == '{') return ParseJson(text, source, options);
  return ParseCsv(text, source, options);
}

}  // namespace descent::client
