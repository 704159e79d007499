#include "client/fail_on.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace descent::client {

absl::StatusOr<std::vector<v1::Verdict>> ParseFailOn(std::string_view flag) {
  const std::string text(flag);
  std::vector<v1::Verdict> verdicts;
  if (absl::AsciiStrToLower(text) == "none") return verdicts;
  for (const std::string& name : std::vector<std::string>(absl::StrSplit(text, ','))) {
    v1::Verdict verdict = v1::VERDICT_UNSPECIFIED;
    if (!v1::Verdict_Parse(absl::AsciiStrToUpper(name), &verdict) ||
        verdict == v1::VERDICT_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--fail-on takes verdicts separated by commas from diverged, stalled, learning, "
          "converged, or none (got '", name, "' in '", text, "')"));
    }
    if (!FailsOn(verdicts, verdict)) verdicts.push_back(verdict);
  }
  return verdicts;
}

bool FailsOn(const std::vector<v1::Verdict>& fail_on, v1::Verdict verdict) {
  return std::find(fail_on.begin(), fail_on.end(), verdict) != fail_on.end();
}

}  // namespace descent::client
