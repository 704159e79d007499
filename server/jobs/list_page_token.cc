#include "server/jobs/list_page_token.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace descent::server {
namespace {

constexpr char kPageTokenVersion[] = "v1";

}  // namespace

std::string EncodeListPageToken(v1::JobState state, int64_t bound) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenVersion, ":", state, ":", bound));
}

absl::StatusOr<int64_t> DecodeListPageToken(std::string_view token, v1::JobState state, int64_t jobs) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "page_token is not a token from a previous ListJobs response; omit it to start from "
      "the first page");
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &decoded)) {
    return malformed;
  }
  std::vector<std::string> parts = absl::StrSplit(decoded, ':');
  int token_state = 0;
  int64_t bound = 0;
  if (parts.size() != 3 || parts[0] != kPageTokenVersion ||
      !absl::SimpleAtoi(parts[1], &token_state) || !absl::SimpleAtoi(parts[2], &bound) ||
      bound <= 0 || bound > jobs) {
    return malformed;
  }
  if (token_state != state) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token was issued for state ",
                     v1::JobState_Name(static_cast<v1::JobState>(token_state)), ", not ",
                     v1::JobState_Name(state), "; keep the same state filter while paging"));
  }
  return bound;
}

}  // namespace descent::server
