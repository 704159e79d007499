#include "client/input_files.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/json_tree.h"
#include "client/proto_json_check.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace descent::client {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Value;

absl::StatusOr<v1::Matrix> RowsToMatrix(const std::vector<std::vector<float>>& rows,
                                        const std::string& source) {
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no rows found"));
  v1::Matrix matrix;
  matrix.set_rows(static_cast<int>(rows.size()));
  matrix.set_cols(static_cast<int>(rows.front().size()));
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != rows.front().size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": row ", r + 1, " has ", rows[r].size(), " values but row 1 has ",
                       rows.front().size(), "; every row needs one value per feature"));
    }
    matrix.mutable_values()->Add(rows[r].begin(), rows[r].end());
  }
  if (matrix.cols() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": rows are empty"));
  }
  return matrix;
}

absl::StatusOr<std::vector<float>> JsonRow(const Value& value, const std::string& where) {
  if (value.kind_case() != Value::kListValue) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a list of numbers"));
  }
  std::vector<float> row;
  for (int i = 0; i < value.list_value().values_size(); ++i) {
    const Value& cell = value.list_value().values(i);
    if (cell.kind_case() != Value::kNumberValue) {
      return absl::InvalidArgumentError(absl::StrCat(where, "[", i, "] must be a number"));
    }
    row.push_back(static_cast<float>(cell.number_value()));
  }
  return row;
}

absl::StatusOr<v1::Matrix> JsonRows(const ListValue& list, const std::string& source,
                                    const std::string& path) {
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < list.values_size(); ++r) {
    absl::StatusOr<std::vector<float>> row =
        JsonRow(list.values(r), absl::StrCat(source, ": ", path, "[", r, "]"));
    if (!row.ok()) return row.status();
    rows.push_back(*std::move(row));
  }
  return RowsToMatrix(rows, source);
}

absl::StatusOr<v1::Matrix> ParseJsonRows(const std::string& text, const std::string& source) {
  Value root;
  const auto parsed = google::protobuf::util::JsonStringToMessage(text, &root);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not valid JSON (", parsed.message().as_string(), ")"));
  }
  if (root.kind_case() == Value::kListValue) return JsonRows(root.list_value(), source, "");
  if (root.kind_case() == Value::kStructValue) {
    const auto& fields = root.struct_value().fields();
    auto rows = fields.find("rows");
    if (rows != fields.end() && rows->second.kind_case() == Value::kListValue) {
      return JsonRows(rows->second.list_value(), source, "rows");
    }
    if (rows != fields.end() && rows->second.kind_case() == Value::kNumberValue) {
      v1::Matrix matrix;
      const auto status = google::protobuf::util::JsonStringToMessage(text, &matrix);
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": not a Matrix {\"rows\", \"cols\", \"values\"} (",
                         status.message().as_string(), ")"));
      }
      if (matrix.rows() <= 0 || matrix.cols() <= 0 ||
          static_cast<int64_t>(matrix.rows()) * matrix.cols() != matrix.values_size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": values must hold rows * cols = ",
                         static_cast<int64_t>(matrix.rows()) * matrix.cols(), " numbers (got ",
                         matrix.values_size(), ")"));
      }
      return matrix;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source,
                   ": expected [[...], ...], {\"rows\": [[...], ...]} or "
                   "{\"rows\": N, \"cols\": D, \"values\": [...]}"));
}

absl::StatusOr<v1::Matrix> ParseCsvRows(const std::string& text, const std::string& source) {
  std::vector<std::vector<float>> rows;
  int line_number = 0;
  bool first_content_line = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<float> row;
    bool numeric = true;
    std::string bad_cell;
    int bad_column = 0;
    int column = 0;
    for (absl::string_view cell : absl::StrSplit(line, ',')) {
      ++column;
      float value = 0;
      if (!absl::SimpleAtof(absl::StripAsciiWhitespace(cell), &value)) {
        if (numeric) {
          bad_cell = std::string(cell);
          bad_column = column;
        }
        numeric = false;
      }
      row.push_back(value);
    }
    if (!numeric) {
      if (first_content_line) {  // a header
        first_content_line = false;
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_number, ": column ",
                                                     bad_column, " ('", bad_cell,
                                                     "') is not a number"));
    }
    first_content_line = false;
    rows.push_back(std::move(row));
  }
  return RowsToMatrix(rows, source);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return buffer.str();
}

absl::StatusOr<v1::JobSpec> ParseJobSpec(const std::string& json, const std::string& source) {
  // Our own pass first: protobuf's parser names no line or column and no valid enum values.
  absl::StatusOr<JsonValue> tree = ParseJsonTree(json);
  absl::Status checked = tree.ok()
                             ? CheckJsonForMessage(*tree, *v1::JobSpec::descriptor(), "a job spec")
                             : tree.status();
  if (!checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", checked.message()));
  }
  v1::JobSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &spec, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid job spec (", status.message().as_string(),
                     "); the fields are JobSpec's in proto/descent/v1/training.proto"));
  }
  return spec;
}

absl::StatusOr<v1::JobSpec> ReadJobSpec(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseJobSpec(*text, path);
}

absl::StatusOr<v1::Matrix> ParseRows(const std::string& text, const std::string& source) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the file is empty"));
  }
  if (text[first] == '[' || text[first] == '{') return ParseJsonRows(text, source);
  return ParseCsvRows(text, source);
}

absl::StatusOr<v1::Matrix> ReadRows(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseRows(*text, path);
}

}  // namespace descent::client
