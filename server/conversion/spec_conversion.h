// The one place where wire messages become engine types and back, and therefore where
// requests are validated. Every error is INVALID_ARGUMENT with the field path as the client
// wrote it ("spec.optimizer.adam.learning_rate must be > 0 (got -0.1)"), so a user can fix
// the job file without reading code. Numeric ranges are the engine's (descent::Validate);
// this file adds only what the proto shape implies: unset oneofs and enums, matrix shapes,
// names, and the service's size limits.
#ifndef DESCENT_SERVER_CONVERSION_SPEC_CONVERSION_H_
#define DESCENT_SERVER_CONVERSION_SPEC_CONVERSION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "descent/v1/training.pb.h"
#include "server/conversion/prepared_job.h"
#include "server/conversion/spec_limits.h"
#include "server/conversion/trained_model.h"

namespace descent::server {

class DatasetStore;

// Fixed limits of the job file's shape.
inline constexpr int kMaxNameLength = 128;       // JobSpec.name
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

// INVALID_ARGUMENT "job_id must be set" for an empty id (`field` names it, e.g. "job_id").
absl::Status ValidateJobId(absl::string_view job_id, absl::string_view field = "job_id");

// A trained model as the wire describes it: hidden layers then the output layer (its units
// and the activation its loss implies), W as [out, in]. A standardised job's transform is
// folded into the first layer, so the export takes raw inputs. The model comes from the job
// manager, so its shape is trusted: a malformed one is a bug (CHECK).
v1::ExportModelResponse ToExportModelResponse(const TrainedModel& model);

// Runs `request.inputs` through the model: values for regression, probabilities for
// classifiers plus the predicted class per row (argmax; probability >= 0.5 for a single
// binary output; none for several binary outputs, which are independent labels) and its
// name when the dataset named its classes. Inputs are raw features, matched to the model's
// by request.column_names when set (predict_columns.h); a standardised job's transform is
// applied first. INVALID_ARGUMENT naming "inputs.*" or "column_names" for a malformed
// matrix, non-finite values, a column count other than the model's inputs or names that
// do not match its features.
absl::StatusOr<v1::PredictResponse> PredictWithModel(const TrainedModel& model,
                                                     const v1::PredictRequest& request);

// The checks of a PredictRequest's inputs that need no model (shape consistency, finite
// values), so they can fail before the job is looked up. INVALID_ARGUMENT naming "inputs.*".
absl::Status ValidatePredictInputs(const v1::Matrix& inputs);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_SPEC_CONVERSION_H_
