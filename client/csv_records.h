// The CLI's own small CSV reader and writer (the client links only the generated stubs, not
// the server's parser): records of text fields with RFC 4180 quoting, LF or CRLF line ends,
// blank lines skipped. Used by `descent predict` to pick feature columns by name and to
// print the input rows back with the predictions appended.
#ifndef DESCENT_CLIENT_CSV_RECORDS_H_
#define DESCENT_CLIENT_CSV_RECORDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace descent::client {

using CsvRecord = std::vector<std::string>;

// INVALID_ARGUMENT naming `source` and the line for an unterminated quote.
absl::StatusOr<std::vector<CsvRecord>> ReadCsvRecords(absl::string_view text,
                                                      const std::string& source);

// One line (no line end), quoting fields that hold a comma, quote or line break.
std::string WriteCsvRecord(const CsvRecord& record);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_CSV_RECORDS_H_
