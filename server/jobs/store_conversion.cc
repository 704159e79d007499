#include "server/jobs/store_conversion.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

template <typename T>
std::vector<T> ToVector(const google::protobuf::RepeatedField<T>& values) {
  return std::vector<T>(values.begin(), values.end());
}

void ToStored(const std::vector<LayerParameters>& layers,
              google::protobuf::RepeatedPtrField<store::v1::Layer>* stored) {
  for (const LayerParameters& layer : layers) {
    store::v1::Layer& out = *stored->Add();
    out.set_rows(layer.weight.rows());
    out.set_cols(layer.weight.cols());
    out.mutable_weight()->Add(layer.weight.data(), layer.weight.data() + layer.weight.size());
    out.mutable_bias()->Add(layer.bias.begin(), layer.bias.end());
  }
}

absl::StatusOr<std::vector<LayerParameters>> FromStored(
    const google::protobuf::RepeatedPtrField<store::v1::Layer>& stored, const char* what) {
  std::vector<LayerParameters> layers;
  for (const store::v1::Layer& layer : stored) {
    if (layer.rows() < 0 || layer.cols() < 0 ||
        static_cast<size_t>(layer.weight_size()) !=
            static_cast<size_t>(layer.rows()) * static_cast<size_t>(layer.cols())) {
      return absl::DataLossError(absl::StrCat("stored ", what, " has a layer of ", layer.rows(),
                                              " x ", layer.cols(), " with ",
                                              layer.weight_size(), " weights"));
    }
    layers.push_back({Matrix(layer.rows(), layer.cols(), ToVector(layer.weight())),
                      ToVector(layer.bias())});
  }
  return layers;
}

void ToStored(const DiagnosisState::Curve& curve, store::v1::LossCurve* stored) {
  stored->mutable_means()->Add(curve.means.begin(), curve.means.end());
  stored->mutable_last_steps()->Add(curve.last_steps.begin(), curve.last_steps.end());
  stored->set_bucket_width(curve.bucket_width);
  stored->set_pending_sum(curve.pending_sum);
  stored->set_pending_count(curve.pending_count);
  stored->set_pending_last_step(curve.pending_last_step);
}

DiagnosisState::Curve FromStored(const store::v1::LossCurve& stored) {
  DiagnosisState::Curve curve;
  curve.means = ToVector(stored.means());
  curve.last_steps = ToVector(stored.last_steps());
  curve.bucket_width = stored.bucket_width();
  curve.pending_sum = stored.pending_sum();
  curve.pending_count = stored.pending_count();
  curve.pending_last_step = stored.pending_last_step();
  return curve;
}

// The store's enums name each value; the engine's order is its own business.
constexpr std::pair<Activation, store::v1::Activation> kActivations[] = {
    {Activation::kIdentity, store::v1::ACTIVATION_IDENTITY},
    {Activation::kRelu, store::v1::ACTIVATION_RELU},
    {Activation::kLeakyRelu, store::v1::ACTIVATION_LEAKY_RELU},
    {Activation::kSigmoid, store::v1::ACTIVATION_SIGMOID},
    {Activation::kTanh, store::v1::ACTIVATION_TANH},
    {Activation::kGelu, store::v1::ACTIVATION_GELU},
};
constexpr std::pair<LossKind, store::v1::Loss> kLosses[] = {
    {LossKind::kMeanSquaredError, store::v1::LOSS_MEAN_SQUARED_ERROR},
    {LossKind::kBinaryCrossEntropy, store::v1::LOSS_BINARY_CROSS_ENTROPY},
    {LossKind::kCategoricalCrossEntropy, store::v1::LOSS_CATEGORICAL_CROSS_ENTROPY},
};

template <typename Engine, typename Stored, size_t N>
Stored StoredValue(const std::pair<Engine, Stored> (&table)[N], Engine value) {
  for (const auto& [engine, stored] : table) {
    if (engine == value) return stored;
  }
  DESCENT_CHECK(false && "an engine value without a stored name");
  return Stored{};
}

template <typename Engine, typename Stored, size_t N>
absl::StatusOr<Engine> EngineValue(const std::pair<Engine, Stored> (&table)[N], int value,
                                   const char* what) {
  for (const auto& [engine, stored] : table) {
    if (stored == value) return engine;
  }
  return absl::DataLossError(absl::StrCat("stored model has an unknown ", what, " (", value, ")"));
}

}  // namespace

store::v1::Checkpoint ToStored(const TrainerCheckpoint& checkpoint) {
  store::v1::Checkpoint stored;
  stored.set_step(checkpoint.step);
  stored.set_epoch(checkpoint.epoch);
  ToStored(checkpoint.parameters, stored.mutable_parameters());
  stored.set_optimizer_steps(checkpoint.optimizer.steps);
  for (const std::vector<float>& buffer : checkpoint.optimizer.buffers) {
    stored.add_optimizer_buffers()->mutable_values()->Add(buffer.begin(), buffer.end());
  }
  stored.set_epoch_loss_sum(checkpoint.epoch_loss_sum);
  stored.mutable_epoch_metric_sums()->Add(checkpoint.epoch_metric_sums.begin(),
                                          checkpoint.epoch_metric_sums.end());
  const DiagnosisState& diagnosis = checkpoint.diagnosis;
  store::v1::DiagnosisState& out = *stored.mutable_diagnosis();
  out.set_steps(diagnosis.steps);
  out.set_first_loss(diagnosis.first_loss);
  out.set_start_sum(diagnosis.start_sum);
  out.set_start_count(diagnosis.start_count);
  out.set_diverged_step(diagnosis.diverged_step);
  out.set_diverged_loss(diagnosis.diverged_loss);
  ToStored(diagnosis.step_curve, out.mutable_step_curve());
  ToStored(diagnosis.epoch_curve, out.mutable_epoch_curve());
  return stored;
}

absl::StatusOr<TrainerCheckpoint> FromStored(const store::v1::Checkpoint& stored) {
  TrainerCheckpoint checkpoint;
  checkpoint.step = stored.step();
  checkpoint.epoch = stored.epoch();
  ASSIGN_OR_RETURN(checkpoint.parameters, FromStored(stored.parameters(), "checkpoint"));
  checkpoint.optimizer.steps = stored.optimizer_steps();
  for (const store::v1::OptimizerBuffer& buffer : stored.optimizer_buffers()) {
    checkpoint.optimizer.buffers.push_back(ToVector(buffer.values()));
  }
  checkpoint.epoch_loss_sum = stored.epoch_loss_sum();
  checkpoint.epoch_metric_sums = ToVector(stored.epoch_metric_sums());
  const store::v1::DiagnosisState& in = stored.diagnosis();
  DiagnosisState& diagnosis = checkpoint.diagnosis;
  diagnosis.steps = in.steps();
  diagnosis.first_loss = in.first_loss();
  diagnosis.start_sum = in.start_sum();
  diagnosis.start_count = in.start_count();
  diagnosis.diverged_step = in.diverged_step();
  diagnosis.diverged_loss = in.diverged_loss();
  diagnosis.step_curve = FromStored(in.step_curve());
  diagnosis.epoch_curve = FromStored(in.epoch_curve());
  return checkpoint;
}

store::v1::Model ToStored(const TrainedModel& model) {
  store::v1::Model stored;
  stored.set_inputs(model.inputs);
  ToStored(model.parameters, stored.mutable_parameters());
  for (Activation activation : model.activations) {
    stored.add_activations(StoredValue(kActivations, activation));
  }
  stored.set_loss(StoredValue(kLosses, model.loss.kind));
  stored.mutable_pos_weight()->Add(model.loss.pos_weight.begin(), model.loss.pos_weight.end());
  stored.mutable_class_weights()->Add(model.loss.class_weights.begin(),
                                      model.loss.class_weights.end());
  stored.set_label_smoothing(model.loss.label_smoothing);
  stored.mutable_feature_names()->Add(model.feature_names.begin(), model.feature_names.end());
  stored.mutable_class_names()->Add(model.class_names.begin(), model.class_names.end());
  return stored;
}

absl::StatusOr<TrainedModel> FromStored(const store::v1::Model& stored) {
  TrainedModel model;
  model.inputs = stored.inputs();
  ASSIGN_OR_RETURN(model.parameters, FromStored(stored.parameters(), "model"));
  for (int activation : stored.activations()) {
    ASSIGN_OR_RETURN(model.activations.emplace_back(),
                     EngineValue(kActivations, activation, "activation"));
  }
  ASSIGN_OR_RETURN(model.loss.kind, EngineValue(kLosses, stored.loss(), "loss"));
  model.loss.pos_weight = ToVector(stored.pos_weight());
  model.loss.class_weights = ToVector(stored.class_weights());
  model.loss.label_smoothing = stored.label_smoothing();
  model.feature_names.assign(stored.feature_names().begin(), stored.feature_names().end());
  model.class_names.assign(stored.class_names().begin(), stored.class_names().end());
  return model;
}

absl::StatusOr<LossHistory> ReadStoredHistory(const JobStore& store, int64_t sequence,
                                              int64_t after_step, int64_t max_steps) {
  ASSIGN_OR_RETURN(StoredHistory stored, store.ReadHistory(sequence, after_step, max_steps));
  LossHistory page(after_step);
  for (double loss : stored.losses) page.AppendStep(loss);
  for (StoredEvent& event : stored.events) {
    page.AppendStoredEvent(event.after_step, std::move(event.message));
  }
  return page;
}

}  // namespace descent::server
