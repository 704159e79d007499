// Engine errors about a job spec, as the client's request sees them.
#ifndef DESCENT_SERVER_CONVERSION_SPEC_ERRORS_H_
#define DESCENT_SERVER_CONVERSION_SPEC_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace descent::server {

// An engine error that carries a JobSpec field path (engine/field_error.h) names the field as
// the client wrote it, under "spec." ("spec.optimizer.adam.learning_rate must be > 0"); any
// other gets `context` (the field being converted) in front. A spec the engine rejects is
// always a bad request, whatever code the engine chose (NOT_FOUND for an unknown builtin,
// say): INVALID_ARGUMENT. Codes that mean something else (INTERNAL, ...) pass through; OK
// stays OK.
absl::Status AsSpecError(const absl::Status& status, absl::string_view context);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_SPEC_ERRORS_H_
