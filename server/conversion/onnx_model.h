// An exported model as an ONNX file (IR version 7, opset 13), written from the export
// message itself, so the ONNX graph and ExportModelResponse's layers can never disagree.
//
// The graph: input "features" float [batch, inputs]; per layer a Gemm (transB = 1, W stored
// as [out, in] exactly as ExportModelResponse holds it) followed by its activation (Relu,
// LeakyRelu with the layer's slope, Sigmoid, Tanh, exact GELU as x * 0.5 * (1 + Erf(x / sqrt 2)),
// nothing for identity); the output activation (Sigmoid for BINARY_CROSS_ENTROPY, Softmax on
// axis 1 for CATEGORICAL_CROSS_ENTROPY, none for MEAN_SQUARED_ERROR) gives output
// "probabilities" or "values" float [batch, outputs]. Standardisation is already folded into
// the first layer's weights by ToExportModelResponse, so the file takes raw features.
// metadata_props: job_id, loss, feature_names and class_names (JSON arrays of strings).
#ifndef DESCENT_SERVER_CONVERSION_ONNX_MODEL_H_
#define DESCENT_SERVER_CONVERSION_ONNX_MODEL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"

namespace descent::server {

// INVALID_ARGUMENT naming "format" when the request asks for a format this server does not
// know (a newer client); checked before the job is looked up.
absl::Status ValidateModelFormat(const v1::ExportModelRequest& request);

// The serialized ONNX ModelProto of `model` (a complete ToExportModelResponse). An export
// whose layers and parameters do not fit together is a server bug: CHECK-fails.
std::string ToOnnxModel(const v1::ExportModelResponse& model);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_ONNX_MODEL_H_
