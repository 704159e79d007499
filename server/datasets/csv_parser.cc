#include "server/datasets/csv_parser.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/csv.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

using ::absl::InvalidArgumentError;
using ::absl::StrCat;

// Cells that mean "no value" in the files people export (pandas' defaults, UCI's "?").
bool IsMissing(absl::string_view cell) {
  if (cell.empty()) return true;
  for (absl::string_view marker : {"na", "n/a", "nan", "null", "none", "?", "-nan"}) {
    if (absl::EqualsIgnoreCase(cell, marker)) return true;
  }
  return false;
}

enum class CellKind { kNumber, kText, kNotFinite };

CellKind ParseCell(absl::string_view cell, double* value) {
  if (!absl::SimpleAtod(cell, value)) return CellKind::kText;
  return std::isfinite(*value) ? CellKind::kNumber : CellKind::kNotFinite;
}

std::string Where(int64_t line, int column, const std::vector<std::string>& header) {
  std::string where = StrCat("line ", line, ", column ", column);
  if (column >= 1 && column <= static_cast<int>(header.size())) {
    absl::StrAppend(&where, " (", header[column - 1], ")");
  }
  return where;
}

absl::Status CheckHeader(const std::vector<std::string>& header, int64_t line) {
  if (header.size() > static_cast<size_t>(kMaxCsvColumns)) {
    return InvalidArgumentError(StrCat("line ", line, ": the header has ", header.size(),
                                       " columns; at most ", kMaxCsvColumns, " are allowed"));
  }
  absl::flat_hash_set<absl::string_view> seen;
  bool all_numbers = true;
  for (size_t i = 0; i < header.size(); ++i) {
    const int column = static_cast<int>(i) + 1;
    if (header[i].empty()) {
      return InvalidArgumentError(StrCat("line ", line, ", column ", column,
                                         ": the header row needs a name for every column"));
    }
    if (!seen.insert(header[i]).second) {
      return InvalidArgumentError(StrCat("line ", line, ", column ", column, ": column name \"",
                                         header[i], "\" appears twice; rename one"));
    }
    double ignored;
    all_numbers = all_numbers && ParseCell(header[i], &ignored) != CellKind::kText;
  }
  if (all_numbers) {
    return InvalidArgumentError(StrCat(
        "line ", line,
        ": the first line must be a header row of column names (it holds only numbers); "
        "add a header line such as f1,f2,...,target"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CsvTable> ParseCsv(absl::string_view bytes) {
  std::vector<std::string> header;
  std::vector<std::string> fields;
  int64_t line = 0;

  // Pass 1: shape, missing values and each column's type, so pass 2 can store every cell
  // in its final form without keeping the text of numeric columns.
  base::CsvTokenizer reader(bytes, kMaxCsvFieldBytes);
  ASSIGN_OR_RETURN(const bool has_header, reader.Next(&header, &line));
  if (!has_header) {
    return InvalidArgumentError("line 1: the file is empty; send a header row and data rows");
  }
  const int64_t header_line = line;
  RETURN_IF_ERROR(CheckHeader(header, header_line));
  CsvTable table;
  table.columns.resize(header.size());
  for (size_t c = 0; c < header.size(); ++c) table.columns[c].name = header[c];
  while (true) {
    ASSIGN_OR_RETURN(const bool more, reader.Next(&fields, &line));
    if (!more) break;
    if (fields.size() != header.size()) {
      const int column = static_cast<int>(std::min(fields.size(), header.size())) + 1;
      return InvalidArgumentError(
          StrCat("line ", line, ", column ", column, ": the row has ", fields.size(),
                 " fields but the header has ", header.size(),
                 "; every row needs one value per column (quote fields that contain commas)"));
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      const int column = static_cast<int>(c) + 1;
      if (IsMissing(fields[c])) {
        return InvalidArgumentError(StrCat(Where(line, column, header), ": missing value (\"",
                                           fields[c], "\"); fill it in or drop the row"));
      }
      double value;
      const CellKind kind = ParseCell(fields[c], &value);
      if (kind == CellKind::kNotFinite) {
        return InvalidArgumentError(StrCat(Where(line, column, header), ": \"", fields[c],
                                           "\" is not a finite number"));
      }
      CsvColumn& target = table.columns[c];
      if (kind == CellKind::kText && target.numeric) {
        target.numeric = false;
        target.first_text_line = line;
        target.first_text = fields[c];
      }
    }
    ++table.rows;
  }
  if (table.rows == 0) {
    return InvalidArgumentError(StrCat("line ", header_line + 1,
                                       ": the file has a header but no data rows"));
  }

  // Pass 2: the values. The bytes are the same, so the reader cannot fail this time.
  std::vector<absl::flat_hash_map<std::string, int32_t>> codes(header.size());
  for (CsvColumn& column : table.columns) {
    if (column.numeric) {
      column.numbers.reserve(table.rows);
    } else {
      column.codes.reserve(table.rows);
    }
  }
  base::CsvTokenizer values(bytes, kMaxCsvFieldBytes);
  DESCENT_CHECK(*values.Next(&fields, &line));  // the header
  while (*values.Next(&fields, &line)) {
    for (size_t c = 0; c < fields.size(); ++c) {
      CsvColumn& column = table.columns[c];
      if (column.numeric) {
        double value = 0;
        DESCENT_CHECK(absl::SimpleAtod(fields[c], &value));
        column.numbers.push_back(value);
      } else {
        auto [it, inserted] =
            codes[c].try_emplace(fields[c], static_cast<int32_t>(column.categories.size()));
        if (inserted) column.categories.push_back(fields[c]);
        column.codes.push_back(it->second);
      }
    }
  }
  // Sorted categories make class indices independent of row order.
  for (CsvColumn& column : table.columns) {
    if (column.numeric) continue;
    std::vector<int32_t> order(column.categories.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return column.categories[a] < column.categories[b];
    });
    std::vector<int32_t> new_code(order.size());
    std::vector<std::string> sorted(order.size());
    for (size_t rank = 0; rank < order.size(); ++rank) {
      new_code[order[rank]] = static_cast<int32_t>(rank);
      sorted[rank] = std::move(column.categories[order[rank]]);
    }
    column.categories = std::move(sorted);
    for (int32_t& code : column.codes) code = new_code[code];
  }
  return table;
}

}  // namespace descent::server
