#include "server/command_line.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

std::string Dashed(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// Levenshtein distance, for "did you mean" (flag names are short).
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known flag an unknown `name` most likely meant, or nullopt.
std::optional<std::string> Nearest(absl::string_view name,
                                   absl::Span<const char* const> flag_names) {
  std::optional<std::string> best;
  size_t best_distance = 3;  // further than 2 edits is a different word
  for (const char* known : flag_names) {
    const size_t distance =
        absl::StartsWith(known, name) && !name.empty() ? 0 : EditDistance(name, known);
    if (distance < best_distance) {
      best_distance = distance;
      best = known;
    }
  }
  return best;
}

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

}  // namespace

std::string ExpectedForm(const std::string& flag_name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(flag_name);
  DESCENT_CHECK(flag != nullptr);
  if (flag->IsOfType<absl::Duration>()) {
    return "a duration with a unit, e.g. 5s, 500ms or 2m";
  }
  if (flag->IsOfType<int>() || flag->IsOfType<int64_t>()) {
    return absl::StrCat("a whole number, e.g. ", flag->DefaultValue());
  }
  if (flag->IsOfType<double>()) return absl::StrCat("a number, e.g. ", flag->DefaultValue());
  if (flag->IsOfType<bool>()) return "true or false";
  return "";  // a string: any value parses
}

absl::Status ParseFlags(const std::vector<std::string>& args,
                        absl::Span<const char* const> flag_names) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return Usage(
            absl::StrCat("unexpected argument ", args[i + 1], ": descentd takes only flags"));
      }
      break;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      return Usage(absl::StrCat("unexpected argument ", arg, ": descentd takes only flags"));
    }
    const absl::string_view body = absl::StripPrefix(absl::StripPrefix(arg, "-"), "-");
    const size_t equals = body.find('=');
    const std::string name = absl::StrReplaceAll(body.substr(0, equals), {{"-", "_"}});
    const bool known = std::find_if(flag_names.begin(), flag_names.end(),
                                    [&](const char* n) { return name == n; }) != flag_names.end();
    if (!known) {
      std::string message = absl::StrCat("unknown flag ", arg.substr(0, arg.find('=')));
      if (std::optional<std::string> nearest = Nearest(name, flag_names)) {
        absl::StrAppend(&message, "; did you mean --", Dashed(*nearest), "?");
      }
      return Usage(message);
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    DESCENT_CHECK(flag != nullptr);
    std::string value;
    std::string as_typed = arg;
    if (equals != absl::string_view::npos) {
      value = std::string(body.substr(equals + 1));
    } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
      value = args[++i];
      as_typed = absl::StrCat(arg, " ", value);
    } else {
      // Not even the next flag as the value: `--listen --workers 2` is a forgotten value.
      const std::string form = ExpectedForm(name);
      return Usage(absl::StrCat(arg, " needs a value", form.empty() ? "" : ": ", form,
                                form.empty() ? ", e.g. " : "; ", arg, "=",
                                flag->DefaultValue().empty() ? "..." : flag->DefaultValue()));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      // absl's own message names the flag with underscores; ours quotes what was typed.
      return Usage(absl::StrCat(as_typed, ": expected ", ExpectedForm(name)));
    }
  }
  return absl::OkStatus();
}

}  // namespace descent::server
