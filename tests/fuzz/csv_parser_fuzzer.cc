// ParseCsv on arbitrary bytes. Besides sanitizer findings, checks the documented contract:
// an error is INVALID_ARGUMENT starting with "line "; a table has at least one row, and every
// column one value per row (numbers, or codes indexing its sorted distinct categories).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "server/datasets/csv_parser.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using descent::fuzz::FuzzCheck;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<descent::server::CsvTable> table = descent::server::ParseCsv(bytes);
  if (!table.ok()) {
    descent::fuzz::CheckErrorContract(table.status(), {absl::StatusCode::kInvalidArgument});
    FuzzCheck(absl::StartsWith(table.status().message(), "line "),
              "error message starts with \"line L, column C\"");
    return 0;
  }
  FuzzCheck(table->rows > 0, "a table has data rows");
  FuzzCheck(!table->columns.empty(), "a table has columns");
  FuzzCheck(table->columns.size() <= static_cast<size_t>(descent::server::kMaxCsvColumns),
            "at most kMaxCsvColumns columns");
  for (const descent::server::CsvColumn& column : table->columns) {
    FuzzCheck(!column.name.empty(), "column names are not empty");
    const size_t rows = static_cast<size_t>(table->rows);
    if (column.numeric) {
      FuzzCheck(column.numbers.size() == rows, "a numeric column has one number per row");
      for (double value : column.numbers) FuzzCheck(std::isfinite(value), "numbers are finite");
    } else {
      FuzzCheck(column.codes.size() == rows, "a text column has one code per row");
      FuzzCheck(std::is_sorted(column.categories.begin(), column.categories.end()),
                "categories are sorted");
      FuzzCheck(std::adjacent_find(column.categories.begin(), column.categories.end()) ==
                    column.categories.end(),
                "categories are distinct");
      for (int32_t code : column.codes) {
        FuzzCheck(code >= 0 && static_cast<size_t>(code) < column.categories.size(),
                  "codes index the categories");
      }
    }
  }
  return 0;
}
