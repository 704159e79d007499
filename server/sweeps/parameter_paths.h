// A sweep parameter's path ("optimizer.adam.learningRate") resolved against JobSpec's
// descriptor, and a value set at that path. Paths use the JSON names of job files (the proto
// names, e.g. learning_rate, work too), so a sweep file reads like the job file it varies.
#ifndef DESCENT_SERVER_SWEEPS_PARAMETER_PATHS_H_
#define DESCENT_SERVER_SWEEPS_PARAMETER_PATHS_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "descent/v1/sweeps.pb.h"
#include "descent/v1/training.pb.h"
#include "google/protobuf/descriptor.h"

namespace descent::server {

// What a path leads to. `field` is the last segment's field; `through_oneof` is set when a
// segment was not a field of its message but of every member of one of its oneofs
// ("optimizer.learningRate": the rate of whichever optimizer a trial uses).
struct ResolvedPath {
  const google::protobuf::FieldDescriptor* field = nullptr;
  bool through_oneof = false;
};

// Resolves `path` against JobSpec. INVALID_ARGUMENT naming `where` (e.g.
// "parameters[0].path"), the segment that is not a field and the fields it could be; also for
// the fields a sweep sets itself (group) or cannot vary (lrFind).
absl::StatusOr<ResolvedPath> ResolveParameterPath(absl::string_view path, absl::string_view where);

// Checks that `parameter`'s domain fits its field: uniform and logUniform need a float or
// double field, intRange an integer field; values go anywhere (each is checked when a trial
// is built). INVALID_ARGUMENT naming `where` and the fix.
absl::Status CheckParameterDomain(const v1::SweepParameter& parameter, absl::string_view where);

// Sets the field at `path` of `spec` to `value` (JSON, as the field appears in a job file),
// replacing what was there (a repeated field's elements included). For a message field whose
// type holds one oneof (optimizer), a string value names the member to choose: kept as the
// spec has it when already chosen, else set to its defaults. INVALID_ARGUMENT naming `path`
// and the value when the value does not fit the field, or when a path through a oneof finds
// no member chosen.
absl::Status SetParameter(absl::string_view path, const google::protobuf::Value& value,
                          v1::JobSpec* spec);

// The value as JSON text, for messages ("0.001", "\"adam\"", "[{\"units\":16}]").
std::string ValueText(const google::protobuf::Value& value);

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_PARAMETER_PATHS_H_
