// CSV tables as people have them: a header row of column names, then one row per line.
// Fields are split by base/csv.h (RFC 4180 quoting: "a, b" keeps its comma, "" inside quotes
// is one quote, a quoted field may span lines; LF or CRLF line ends, an optional UTF-8
// byte-order mark, blank lines skipped, spaces around unquoted fields ignored); this parser
// decides what the fields mean.
//
// A pure function of the bytes (no I/O, no globals), so it can be fuzzed: every input either
// parses or gets INVALID_ARGUMENT whose message starts with "line L, column C" (1-based; C
// counts fields, and the column's name follows when the header has it).
#ifndef DESCENT_SERVER_DATASETS_CSV_PARSER_H_
#define DESCENT_SERVER_DATASETS_CSV_PARSER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace descent::server {

// One column. A column is numeric when every cell is a finite number, else text.
struct CsvColumn {
  std::string name;
  bool numeric = true;
  std::vector<double> numbers;          // numeric: one value per row
  std::vector<std::string> categories;  // text: the distinct cells, sorted
  std::vector<int32_t> codes;           // text: index into categories, one per row
  int64_t first_text_line = 0;          // text: line of the first cell that is not a number
  std::string first_text;               // text: that cell
};

struct CsvTable {
  std::vector<CsvColumn> columns;
  int64_t rows = 0;
};

// Limits that keep a hostile file from taking the server's memory in ways its byte size
// does not show.
inline constexpr int kMaxCsvColumns = 10'000;
inline constexpr int kMaxCsvFieldBytes = 1 << 20;

// Parses `bytes`. INVALID_ARGUMENT "line L, column C (name): ..." for: no header or no data
// rows, an empty or duplicate column name, a row with more or fewer fields than the header
// (ragged), an empty cell or a missing-value marker (NA, N/A, NaN, null, ?), an unterminated
// or misplaced quote, a non-finite number, more than kMaxCsvColumns columns or a field over
// kMaxCsvFieldBytes.
absl::StatusOr<CsvTable> ParseCsv(absl::string_view bytes);

}  // namespace descent::server

#endif  // DESCENT_SERVER_DATASETS_CSV_PARSER_H_
