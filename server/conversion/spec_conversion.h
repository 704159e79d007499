// A submission becomes what the job manager trains: the one place a SubmitJobRequest is
// validated. Every error is INVALID_ARGUMENT with the field path as the client wrote it
// ("spec.optimizer.adam.learning_rate must be > 0 (got -0.1)"), so a user can fix the job
// file without reading code. Numeric ranges are the engine's (descent::Validate); this file
// adds only what the proto shape implies: unset oneofs and enums, matrix shapes, names, and
// the service's size limits. The rest of conversion/: the words both sides share
// (engine_to_proto.h), where the data comes from (dataset_resolution.h), and serving a
// trained model (model_serving.h).
#ifndef DESCENT_SERVER_CONVERSION_SPEC_CONVERSION_H_
#define DESCENT_SERVER_CONVERSION_SPEC_CONVERSION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "descent/v1/training.pb.h"
#include "server/conversion/prepared_job.h"
#include "server/conversion/spec_limits.h"

namespace descent::server {

class DatasetStore;

// Fixed limits of the job file's shape.
inline constexpr int kMaxNameLength = 128;       // JobSpec.name
inline constexpr int kMaxGroupLength = 64;       // JobSpec.group
inline constexpr int kMaxRequestIdLength = 128;  // SubmitJobRequest.request_id
inline constexpr int kMaxHiddenLayers = 64;
inline constexpr int kMaxLayerUnits = 65536;

// Validates a submission and converts it to what the job manager runs: the engine's
// TrainSpec with PyTorch's defaults for unset optional fields, the dataset (builtin datasets
// are generated here, so a spec that does not fit its data fails at submit, not later), and
// the warm-start parameters. INVALID_ARGUMENT naming the field path and the fix otherwise,
// also beyond the default SpecLimits; an unknown builtin dataset is INVALID_ARGUMENT too
// (the spec is wrong, not a resource).
absl::StatusOr<PreparedJob> PrepareJob(const v1::SubmitJobRequest& request);

// As above, and resolves references to uploaded datasets (spec.dataset.id or .name) in
// `datasets` (null: such references are FAILED_PRECONDITION). Fills spec.dataset.resolved
// (the dataset id, feature names, and the standardisation fitted on the training split when
// spec.dataset.standardize) in the returned job's spec. NOT_FOUND for an unknown dataset;
// INVALID_ARGUMENT naming spec.dataset.targets / .features for columns that do not fit, or
// the limit of `limits` the job exceeds.
absl::StatusOr<PreparedJob> PrepareJob(const v1::SubmitJobRequest& request,
                                       const DatasetStore* datasets, const SpecLimits& limits = {});

// A range test's options with fastai's defaults for the unset ones; not validated (PrepareJob
// does that, descent::Validate(LrFindSpec)).
LrFindSpec ToLrFindSpec(const v1::LrFind& lr_find);

// INVALID_ARGUMENT "job_id must be set" for an empty id (`field` names it, e.g. "job_id").
absl::Status ValidateJobId(absl::string_view job_id, absl::string_view field = "job_id");

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_SPEC_CONVERSION_H_
