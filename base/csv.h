// CSV as RFC 4180 writes it and as people export it: records of text fields separated by
// commas; a field in double quotes keeps its commas and line breaks, and "" inside quotes is
// one quote; LF, CRLF or a lone CR ends a record; an optional UTF-8 byte-order mark; blank
// lines (e.g. a trailing one) skipped; blanks around an unquoted field, and around the quotes
// of a quoted one, ignored. Only the splitting into fields lives here: what a field means
// (a number, a column name) is for the readers above (the server's dataset parser, the CLI's
// predict input).
//
// Errors are INVALID_ARGUMENT whose message starts "line L, column C: " (1-based; L is the
// physical line, C counts fields), so a caller can prefix the file's name.
#ifndef DESCENT_BASE_CSV_H_
#define DESCENT_BASE_CSV_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace descent::base {

using CsvRecord = std::vector<std::string>;

// Splits bytes into records one at a time, tracking physical line numbers (a quoted field may
// span lines). The bytes must outlive the tokenizer.
class CsvTokenizer {
 public:
  // A field longer than `max_field_bytes` is an error (a bound for untrusted input, where a
  // stray quote would otherwise swallow the rest of the file into one field).
  explicit CsvTokenizer(absl::string_view bytes,
                        size_t max_field_bytes = std::numeric_limits<size_t>::max());

  // Reads the next record that is not blank into *fields and the line it starts on into
  // *line. False at the end of the input. INVALID_ARGUMENT "line L, column C: ..." for a quote
  // never closed (L is where it opened), text after a closing quote, or a field over the
  // limit; the tokenizer should not be used after an error.
  absl::StatusOr<bool> Next(CsvRecord* fields, int64_t* line);

 private:
  bool AtLineEnd() const;
  bool ConsumeComma();
  void ConsumeLineEnd();
  void SkipBlanks();
  absl::Status TooLong(int column) const;
  // Reads one field, leaving the position at the comma or line end that follows it.
  absl::Status ReadField(int column, std::string* field, bool* quoted);

  absl::string_view bytes_;
  size_t max_field_bytes_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

// Every record of `bytes`, blank lines skipped; the errors of CsvTokenizer::Next.
absl::StatusOr<std::vector<CsvRecord>> ReadCsvRecords(absl::string_view bytes);

// One record as a line (no line end), quoting the fields that hold a comma, quote, line
// break or surrounding blanks, so ReadCsvRecords gives the record back.
std::string WriteCsvRecord(const CsvRecord& record);

}  // namespace descent::base

#endif  // DESCENT_BASE_CSV_H_
