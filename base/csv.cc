#include "base/csv.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace descent::base {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

CsvTokenizer::CsvTokenizer(absl::string_view bytes, size_t max_field_bytes)
    : bytes_(bytes), max_field_bytes_(max_field_bytes) {
  if (absl::StartsWith(bytes_, "\xEF\xBB\xBF")) pos_ = 3;  // UTF-8 byte-order mark
}

absl::StatusOr<bool> CsvTokenizer::Next(CsvRecord* fields, int64_t* line) {
  while (pos_ < bytes_.size()) {
    *line = line_;
    fields->clear();
    bool any_quoted = false;
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      bool quoted = false;
      RETURN_IF_ERROR(ReadField(static_cast<int>(fields->size()) + 1, &field, &quoted));
      any_quoted = any_quoted || quoted;
      fields->push_back(std::move(field));
      end_of_record = !ConsumeComma();
    }
    ConsumeLineEnd();
    const bool blank = fields->size() == 1 && (*fields)[0].empty() && !any_quoted;
    if (!blank) return true;
  }
  return false;
}

bool CsvTokenizer::AtLineEnd() const {
  return pos_ >= bytes_.size() || bytes_[pos_] == '\n' || bytes_[pos_] == '\r';
}

bool CsvTokenizer::ConsumeComma() {
  if (pos_ < bytes_.size() && bytes_[pos_] == ',') {
    ++pos_;
    return true;
  }
  return false;
}

void CsvTokenizer::ConsumeLineEnd() {
  if (pos_ >= bytes_.size()) return;
  if (bytes_[pos_] == '\r') ++pos_;
  if (pos_ < bytes_.size() && bytes_[pos_] == '\n') ++pos_;
  ++line_;
}

void CsvTokenizer::SkipBlanks() {
  while (pos_ < bytes_.size() && IsBlank(bytes_[pos_])) ++pos_;
}

absl::Status CsvTokenizer::TooLong(int column) const {
  return absl::InvalidArgumentError(absl::StrCat("line ", line_, ", column ", column,
                                                 ": field is longer than ", max_field_bytes_,
                                                 " bytes; is a quote left open?"));
}

absl::Status CsvTokenizer::ReadField(int column, std::string* field, bool* quoted) {
  SkipBlanks();
  if (pos_ < bytes_.size() && bytes_[pos_] == '"') {
    *quoted = true;
    const int64_t open_line = line_;
    ++pos_;
    while (true) {
      if (pos_ >= bytes_.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", open_line, ", column ", column,
                         ": the quote opened here is never closed; close it or write a quote "
                         "inside a field as \"\""));
      }
      const char c = bytes_[pos_++];
      if (c == '"') {
        if (pos_ < bytes_.size() && bytes_[pos_] == '"') {
          field->push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      // A line break inside quotes is part of the field; CRLF counts as one line.
      if (c == '\n' || (c == '\r' && (pos_ >= bytes_.size() || bytes_[pos_] != '\n'))) ++line_;
      field->push_back(c);
      if (field->size() > max_field_bytes_) return TooLong(column);
    }
    SkipBlanks();
    if (!AtLineEnd() && bytes_[pos_] != ',') {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_, ", column ", column, ": unexpected '",
                       absl::string_view(&bytes_[pos_], 1),
                       "' after a closing quote; quote the whole field and write a quote "
                       "inside it as \"\""));
    }
    return absl::OkStatus();
  }
  const size_t start = pos_;
  while (!AtLineEnd() && bytes_[pos_] != ',') ++pos_;
  if (pos_ - start > max_field_bytes_) return TooLong(column);
  const absl::string_view text =
      absl::StripTrailingAsciiWhitespace(bytes_.substr(start, pos_ - start));
  field->assign(text.data(), text.size());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CsvRecord>> ReadCsvRecords(absl::string_view bytes) {
  std::vector<CsvRecord> records;
  CsvTokenizer tokenizer(bytes);
  CsvRecord record;
  int64_t line = 0;
  while (true) {
    ASSIGN_OR_RETURN(const bool more, tokenizer.Next(&record, &line));
    if (!more) break;
    records.push_back(std::move(record));
  }
  return records;
}

std::string WriteCsvRecord(const CsvRecord& record) {
  // A lone empty field written bare would be a blank line, which readers skip.
  if (record.size() == 1 && record[0].empty()) return "\"\"";
  return absl::StrJoin(record, ",", [](std::string* out, const std::string& field) {
    const bool plain =
        field.find_first_of(",\"\r\n") == std::string::npos &&
        (field.empty() || (!absl::ascii_isspace(static_cast<unsigned char>(field.front())) &&
                           !absl::ascii_isspace(static_cast<unsigned char>(field.back()))));
    if (plain) {
      out->append(field);
      return;
    }
    out->push_back('"');
    for (char c : field) {
      if (c == '"') out->push_back('"');
      out->push_back(c);
    }
    out->push_back('"');
  });
}

}  // namespace descent::base
