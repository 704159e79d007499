// A SUCCEEDED job's model served to clients: exported as the wire describes a network, and
// run on a client's rows (Predict). The numbers come from the engine: the network computes
// the outputs and the engine's PredictedClass decides the classes, the rule accuracy is
// measured with.
#ifndef DESCENT_SERVER_CONVERSION_MODEL_SERVING_H_
#define DESCENT_SERVER_CONVERSION_MODEL_SERVING_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "server/conversion/trained_model.h"

namespace descent::server {

// A trained model as the wire describes it: hidden layers then the output layer (its units
// and the activation its loss implies), W as [out, in]. A standardised job's transform is
// folded into the first layer, so the export takes raw inputs. The model comes from the job
// manager, so its shape is trusted: a malformed one is a bug (CHECK).
v1::ExportModelResponse ToExportModelResponse(const TrainedModel& model);

// Runs `request.inputs` through the model: values for regression, probabilities for
// classifiers plus the predicted class per row (argmax; probability >= 0.5 for a single
// binary output, decided on the logit; none for several binary outputs, which are
// independent labels) and its name when the dataset named its classes. Inputs are raw
// features, matched to the model's by request.column_names when set (predict_columns.h); a
// standardised job's transform is applied first. INVALID_ARGUMENT naming "inputs.*" or
// "column_names" for a malformed matrix, non-finite values, a column count other than the
// model's inputs or names that do not match its features; INTERNAL when the model cannot be
// rebuilt (a server bug, not the client's fault).
absl::StatusOr<v1::PredictResponse> PredictWithModel(const TrainedModel& model,
                                                     const v1::PredictRequest& request);

// The checks of a PredictRequest's inputs that need no model (shape consistency, finite
// values), so they can fail before the job is looked up. INVALID_ARGUMENT naming "inputs.*".
absl::Status ValidatePredictInputs(const v1::Matrix& inputs);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_MODEL_SERVING_H_
