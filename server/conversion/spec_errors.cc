#include "server/conversion/spec_errors.h"

#include "absl/strings/str_cat.h"
#include "engine/field_error.h"

namespace descent::server {

absl::Status AsSpecError(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      break;
    default:
      return status;
  }
  // A field error's message is its field path and the problem, so under "spec." it reads as
  // the client's own path.
  if (ErrorField(status).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("spec.", status.message()));
  }
  return absl::InvalidArgumentError(absl::StrCat(context, ": ", status.message()));
}

}  // namespace descent::server
