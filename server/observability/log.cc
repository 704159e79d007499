#include "server/observability/log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace descent::server {
namespace {

struct LogState {
  absl::Mutex mu;
  LogFormat format ABSL_GUARDED_BY(mu) = LogFormat::kText;
  std::function<void(const std::string&)> sink ABSL_GUARDED_BY(mu);
};

LogState& State() {
  static LogState* state = new LogState;  // never destroyed: threads may log during exit
  return *state;
}

const char* LevelName(LogLevel level, LogFormat format) {
  switch (level) {
    case LogLevel::kInfo:
      return format == LogFormat::kJson ? "info" : "INFO";
    case LogLevel::kWarning:
      return format == LogFormat::kJson ? "warning" : "WARN";
    case LogLevel::kError:
      return format == LogFormat::kJson ? "error" : "ERROR";
  }
  return "?";
}

// `text` as a JSON string literal, quotes included.
void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// A message on one line: a newline inside it would start what looks like another entry.
std::string OneLine(absl::string_view message) {
  std::string line(message);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

LogField::LogField(absl::string_view key, int64_t value)
    : key(key), value(absl::StrCat(value)), number(true) {}

LogField::LogField(absl::string_view key, double value)
    : key(key), value(absl::StrCat(value)), number(std::isfinite(value)) {}

void SetLogFormat(LogFormat format) {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  state.format = format;
}

std::string FormatLogLine(LogFormat format, absl::Time time, LogLevel level,
                          absl::string_view event, absl::string_view message,
                          std::initializer_list<LogField> fields) {
  const std::string timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  if (format == LogFormat::kText) {
    return absl::StrCat(timestamp, " ", LevelName(level, format), " ", event, ": ",
                        OneLine(message));
  }
  std::string line = absl::StrCat(R"({"time":")", timestamp, R"(","level":")",
                                  LevelName(level, format), R"(","event":)");
  AppendJsonString(&line, event);
  for (const LogField& field : fields) {
    line.push_back(',');
    AppendJsonString(&line, field.key);
    line.push_back(':');
    if (field.number) {
      line.append(field.value);
    } else {
      AppendJsonString(&line, field.value);
    }
  }
  line.append(R"(,"message":)");
  AppendJsonString(&line, message);
  line.push_back('}');
  return line;
}

void Log(LogLevel level, absl::string_view event, absl::string_view message,
         std::initializer_list<LogField> fields) {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  std::string line = FormatLogLine(state.format, absl::Now(), level, event, message, fields);
  if (state.sink) {
    state.sink(line);
    return;
  }
  line.push_back('\n');
  // One write per line, under the lock: lines from different threads never interleave.
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

LogCapture::LogCapture(std::function<void(const std::string& line)> sink) {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  state.sink = std::move(sink);
}

LogCapture::~LogCapture() {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  state.sink = nullptr;
}

}  // namespace descent::server
