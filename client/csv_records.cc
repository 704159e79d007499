#include "client/csv_records.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace descent::client {

absl::StatusOr<std::vector<CsvRecord>> ReadCsvRecords(absl::string_view text,
                                                      const std::string& source) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<CsvRecord> records;
  CsvRecord record;
  std::string field;
  bool quoted = false;     // inside quotes
  bool was_quoted = false;  // the current field had quotes (so it is not blank)
  int line = 1;
  int quote_line = 0;
  auto end_field = [&] {
    record.push_back(was_quoted ? field : std::string(absl::StripAsciiWhitespace(field)));
    field.clear();
    was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) records.push_back(std::move(record));
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && absl::StripAsciiWhitespace(field).empty()) {
      field.clear();
      quoted = was_quoted = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
    } else {
      field.push_back(c);
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", quote_line, ": the quote opened here is never closed"));
  }
  if (!field.empty() || was_quoted || !record.empty()) end_record();
  return records;
}

std::string WriteCsvRecord(const CsvRecord& record) {
  return absl::StrJoin(record, ",", [](std::string* out, const std::string& field) {
    if (field.find_first_of(",\"\r\n") == std::string::npos) {
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

}  // namespace descent::client
