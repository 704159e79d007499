// Files the CLI reads: job specs (JobSpec in protobuf's JSON mapping) and the rows
// `descent predict` sends (prediction_input.h parses them). The path "-" is standard input.
// Errors name the file and what to fix, and come back as INVALID_ARGUMENT (bad content) or
// NOT_FOUND (cannot open), which the CLI reports as a usage error.
#ifndef DESCENT_CLIENT_INPUT_FILES_H_
#define DESCENT_CLIENT_INPUT_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "descent/v1/sweeps.pb.h"
#include "descent/v1/training.pb.h"

namespace descent::client {

// The whole file, or all of standard input for "-". NOT_FOUND when it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// How messages name `path`: the path itself, or "standard input" for "-".
std::string InputName(const std::string& path);

// A JobSpec from JSON text (camelCase or snake_case names, enums by name). Unknown fields are
// an error, so a typo does not silently fall back to a default. `source` names the text in
// messages (usually the path). INVALID_ARGUMENT says where and what to fix:
//   "examples/x.json:7:11: loss: "MSE" is not a loss; use one of MEAN_SQUARED_ERROR, ..."
// (see client/proto_json_check.h for what is checked).
absl::StatusOr<v1::JobSpec> ParseJobSpec(const std::string& json, const std::string& source);
absl::StatusOr<v1::JobSpec> ReadJobSpec(const std::string& path);

// A sweep file (SweepSpec in protobuf's JSON mapping), checked as job files are.
absl::StatusOr<v1::SweepSpec> ReadSweepSpec(const std::string& path);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_INPUT_FILES_H_
