// descentd's log: one line per event on stderr, as text for people or as JSON for log
// collectors (--log-format). Every line has a time (UTC, milliseconds), a level, an event
// name and a sentence; JSON lines carry the event's fields as well (job_id, state, ...), so
// nothing needs to be parsed out of the sentence:
//
//   2026-12-06T19:30:06.410Z INFO job_succeeded: job job-3f2a9c1b7d0e "house" SUCCEEDED ...
//   {"time":"2026-12-06T19:30:06.410Z","level":"info","event":"job_succeeded",
//    "job_id":"job-3f2a9c1b7d0e",...,"message":"job job-3f2a9c1b7d0e \"house\" SUCCEEDED ..."}
//
// Thread-safe: a line is written whole, never interleaved with another thread's line.
#ifndef DESCENT_SERVER_OBSERVABILITY_LOG_H_
#define DESCENT_SERVER_OBSERVABILITY_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace descent::server {

enum class LogFormat { kText, kJson };
enum class LogLevel { kInfo, kWarning, kError };

// "text" or "json" (--log-format); nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(absl::string_view name);

// One field of a JSON line: a string, or a number written as a JSON number.
struct LogField {
  LogField(absl::string_view key, absl::string_view value) : key(key), value(value) {}
  LogField(absl::string_view key, const char* value) : key(key), value(value) {}
  LogField(absl::string_view key, const std::string& value) : key(key), value(value) {}
  LogField(absl::string_view key, int64_t value);
  LogField(absl::string_view key, int value) : LogField(key, static_cast<int64_t>(value)) {}
  LogField(absl::string_view key, double value);

  std::string key;
  std::string value;
  bool number = false;
};

// The process's format from now on (default text).
void SetLogFormat(LogFormat format);

// Writes one line to stderr (or to the sink a LogCapture installed). `event` is a short
// snake_case name (job_submitted, listen_failed, ...); `message` one sentence for a person,
// which the text format shows after the event. Never fails: a line that cannot be written
// is dropped.
void Log(LogLevel level, absl::string_view event, absl::string_view message,
         std::initializer_list<LogField> fields = {});

// One line as Log writes it, without the newline.
std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          absl::string_view event, absl::string_view message,
                          std::initializer_list<LogField> fields);

// For tests: while alive, Log hands every line (without its newline) to `sink` instead of
// writing it to stderr. One at a time.
class LogCapture {
 public:
  explicit LogCapture(std::function<void(const std::string& line)> sink);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_LOG_H_
