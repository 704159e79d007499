#include "server/conversion/model_serving.h"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/loss.h"
#include "engine/network.h"
#include "engine/trainer.h"
#include "server/conversion/engine_to_proto.h"
#include "server/conversion/predict_columns.h"
#include "server/datasets/standardization.h"

namespace descent::server {
namespace {

// The hidden layers of a trained model, rebuilt from its parameters and activations.
ModelSpec TrainedModelSpec(const TrainedModel& model) {
  ModelSpec spec;
  for (size_t i = 0; i + 1 < model.parameters.size(); ++i) {
    LayerSpec layer;
    layer.units = model.parameters[i].weight.rows();
    layer.activation = model.activations[i];
    const auto& hidden = model.spec.model().hidden_layers();
    if (static_cast<int>(i) < hidden.size() && hidden[i].has_negative_slope()) {
      layer.negative_slope = hidden[i].negative_slope();
    }
    spec.hidden_layers.push_back(layer);
  }
  return spec;
}

void CheckTrainedModel(const TrainedModel& model) {
  DESCENT_CHECK(!model.parameters.empty());
  DESCENT_CHECK(model.activations.size() == model.parameters.size());
  DESCENT_CHECK(model.parameters.front().weight.cols() == model.inputs);
}

}  // namespace

v1::ExportModelResponse ToExportModelResponse(const TrainedModel& model) {
  CheckTrainedModel(model);
  v1::ExportModelResponse response;
  response.set_job_id(model.job_id);
  response.set_inputs(model.inputs);
  const ModelSpec hidden = TrainedModelSpec(model);
  for (const LayerSpec& layer : hidden.hidden_layers) {
    v1::Layer* out = response.add_layers();
    out->set_units(layer.units);
    out->set_activation(ToProto(layer.activation));
    if (layer.activation == Activation::kLeakyRelu) out->set_negative_slope(layer.negative_slope);
  }
  const v1::Activation output_activation = ToProto(OutputActivationOf(model.loss.kind));
  v1::Layer* output = response.add_layers();
  output->set_units(model.parameters.back().weight.rows());
  output->set_activation(output_activation);
  response.set_output_activation(output_activation);
  response.set_loss(ToProto(model.loss.kind));
  std::vector<LayerParameters> parameters = model.parameters;
  absl::StatusOr<Standardization> standardization =
      RecordedStandardization(model.spec.dataset().resolved(), model.inputs);
  DESCENT_CHECK(standardization.ok());
  FoldIntoFirstLayer(*standardization, &parameters);
  for (const LayerParameters& layer : parameters) {
    v1::LayerParameters* out = response.mutable_parameters()->add_layers();
    out->mutable_weight()->set_rows(layer.weight.rows());
    out->mutable_weight()->set_cols(layer.weight.cols());
    out->mutable_weight()->mutable_values()->Add(layer.weight.values().begin(),
                                                 layer.weight.values().end());
    out->mutable_bias()->Add(layer.bias.begin(), layer.bias.end());
  }
  response.mutable_feature_names()->Add(model.feature_names.begin(), model.feature_names.end());
  response.mutable_class_names()->Add(model.class_names.begin(), model.class_names.end());
  return response;
}

absl::Status ValidatePredictInputs(const v1::Matrix& inputs) {
  RETURN_IF_ERROR(ToMatrix(inputs, "inputs").status());
  return CheckFinite(inputs.values(), "inputs.values");
}

absl::StatusOr<v1::PredictResponse> PredictWithModel(const TrainedModel& model,
                                                     const v1::PredictRequest& request) {
  CheckTrainedModel(model);
  const std::vector<std::string> column_names(request.column_names().begin(),
                                              request.column_names().end());
  ASSIGN_OR_RETURN(const std::vector<int> order,
                   MatchColumns(column_names, request.inputs().cols(), model.feature_names,
                                model.inputs));
  RETURN_IF_ERROR(ValidatePredictInputs(request.inputs()));
  ASSIGN_OR_RETURN(Matrix x, ToMatrix(request.inputs(), "inputs"));
  if (!column_names.empty()) x = ReorderColumns(x, order);
  ASSIGN_OR_RETURN(const Standardization standardization,
                   RecordedStandardization(model.spec.dataset().resolved(), model.inputs));
  if (!standardization.mean.empty()) ApplyStandardization(standardization, &x);

  // The model is the job manager's and was trained by this engine, so failing to rebuild it
  // is a server bug, not the client's fault. The network is assembled from the parameters
  // per call (no initialisation): its forward buffers are its own, so concurrent calls on
  // one cached model never share them.
  auto internal = [&](const absl::Status& status) {
    return absl::InternalError(
        absl::StrCat("cannot rebuild the model of job ", model.job_id, ": ", status.message()));
  };
  absl::StatusOr<Network> network =
      Network::FromParameters(model.inputs, TrainedModelSpec(model), model.parameters);
  if (!network.ok()) return internal(network.status());
  absl::StatusOr<std::unique_ptr<Loss>> loss = MakeLoss(model.loss, network->outputs());
  if (!loss.ok()) return internal(loss.status());
  ASSIGN_OR_RETURN(const Prediction prediction, Predict(*network, **loss, x));

  v1::PredictResponse response;
  const Matrix& y = prediction.outputs;
  v1::Matrix* out = response.mutable_outputs();
  out->set_rows(y.rows());
  out->set_cols(y.cols());
  out->mutable_values()->Add(y.values().begin(), y.values().end());
  response.mutable_classes()->Add(prediction.classes.begin(), prediction.classes.end());
  // Names for every row or for none.
  if (!model.class_names.empty()) {
    for (int cls : prediction.classes) {
      if (cls >= static_cast<int>(model.class_names.size())) {
        response.clear_class_names();
        break;
      }
      response.add_class_names(model.class_names[cls]);
    }
  }
  return response;
}

}  // namespace descent::server
