// Errors about one field of a job spec carry the field's path as data, so a caller maps
// them without reading the message. The path is the JobSpec one ("optimizer.adam.beta1",
// "dataset.inline.targets.values[3]"), which the engine's specs mirror; the message is the
// path followed by the problem, so it reads the same to a person with or without the
// payload: "optimizer.adam.beta1 must be in [0, 1) (got 1)".
#ifndef DESCENT_ENGINE_FIELD_ERROR_H_
#define DESCENT_ENGINE_FIELD_ERROR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace descent {

// `code` with message `field` + `problem` (problem starts with its separator: " must be ...",
// ": ...") and `field` as a payload.
absl::Status FieldError(absl::StatusCode code, absl::string_view field, absl::string_view problem);

// INVALID_ARGUMENT, the usual code of a field error.
inline absl::Status InvalidFieldError(absl::string_view field, absl::string_view problem) {
  return FieldError(absl::StatusCode::kInvalidArgument, field, problem);
}

// The field path a FieldError carries; nullopt for any other status (OK included).
std::optional<std::string> ErrorField(const absl::Status& status);

}  // namespace descent

#endif  // DESCENT_ENGINE_FIELD_ERROR_H_
