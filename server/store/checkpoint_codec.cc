#include "server/store/checkpoint_codec.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace descent::server {
namespace {

constexpr uint32_t kCheckpointMagic = 0x4b434344;  // "DCCK"
constexpr uint32_t kModelMagic = 0x4c4d4344;       // "DCML"
constexpr uint32_t kFormatVersion = 1;

static_assert(std::endian::native == std::endian::little,
              "the codec writes the host's byte order, which must be little-endian");

class Writer {
 public:
  template <typename T>
  void Put(T value) {
    static_assert(std::is_arithmetic_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(value));
  }
  template <typename T>
  void PutVector(const std::vector<T>& values) {
    static_assert(std::is_arithmetic_v<T>);
    Put<uint64_t>(values.size());
    out_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  void PutString(std::string_view value) {
    Put<uint64_t>(value.size());
    out_.append(value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what Writer wrote; any read past the end sets a sticky failure and yields zeros, so
// decoders read straight through and check ok() once.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  template <typename T>
  T Get() {
    static_assert(std::is_arithmetic_v<T>);
    T value{};
    if (!Need(sizeof(T))) return value;
    std::memcpy(&value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return value;
  }
  template <typename T>
  std::vector<T> GetVector() {
    const uint64_t count = Get<uint64_t>();
    if (count > in_.size() / sizeof(T)) {
      failed_ = true;
      return {};
    }
    std::vector<T> values(count);
    if (count > 0) std::memcpy(values.data(), in_.data(), count * sizeof(T));
    in_.remove_prefix(count * sizeof(T));
    return values;
  }
  std::string GetString() {
    const uint64_t size = Get<uint64_t>();
    if (!Need(size)) return {};
    std::string value(in_.substr(0, size));
    in_.remove_prefix(size);
    return value;
  }
  // A count of items that each take at least one byte, bounded by what is left.
  uint64_t GetCount() {
    const uint64_t count = Get<uint64_t>();
    if (count > in_.size()) failed_ = true;
    return failed_ ? 0 : count;
  }
  bool ok() const { return !failed_; }
  bool done() const { return in_.empty(); }

 private:
  bool Need(uint64_t bytes) {
    if (failed_ || bytes > in_.size()) {
      failed_ = true;
      return false;
    }
    return true;
  }
  std::string_view in_;
  bool failed_ = false;
};

void PutParameters(Writer& out, const std::vector<LayerParameters>& layers) {
  out.Put<uint64_t>(layers.size());
  for (const LayerParameters& layer : layers) {
    out.Put<int32_t>(layer.weight.rows());
    out.Put<int32_t>(layer.weight.cols());
    out.PutVector(std::vector<float>(layer.weight.data(),
                                     layer.weight.data() + layer.weight.size()));
    out.PutVector(layer.bias);
  }
}

std::vector<LayerParameters> GetParameters(Reader& in) {
  std::vector<LayerParameters> layers(in.GetCount());
  for (LayerParameters& layer : layers) {
    const int32_t rows = in.Get<int32_t>();
    const int32_t cols = in.Get<int32_t>();
    std::vector<float> weight = in.GetVector<float>();
    layer.bias = in.GetVector<float>();
    if (!in.ok() || rows < 0 || cols < 0 ||
        weight.size() != static_cast<size_t>(rows) * static_cast<size_t>(cols)) {
      return {};
    }
    layer.weight = Matrix(rows, cols, std::move(weight));
  }
  return layers;
}

void PutCurve(Writer& out, const DiagnosisState::Curve& curve) {
  out.PutVector(curve.means);
  out.PutVector(curve.last_steps);
  out.Put<int64_t>(curve.bucket_width);
  out.Put<double>(curve.pending_sum);
  out.Put<int64_t>(curve.pending_count);
  out.Put<int64_t>(curve.pending_last_step);
}

DiagnosisState::Curve GetCurve(Reader& in) {
  DiagnosisState::Curve curve;
  curve.means = in.GetVector<double>();
  curve.last_steps = in.GetVector<int64_t>();
  curve.bucket_width = in.Get<int64_t>();
  curve.pending_sum = in.Get<double>();
  curve.pending_count = in.Get<int64_t>();
  curve.pending_last_step = in.Get<int64_t>();
  return curve;
}

absl::Status CheckHeader(Reader& in, uint32_t magic, const char* what) {
  const uint32_t found_magic = in.Get<uint32_t>();
  const uint32_t version = in.Get<uint32_t>();
  if (!in.ok() || found_magic != magic) {
    return absl::DataLossError(absl::StrCat("stored ", what, " is not in descent's format"));
  }
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("stored ", what, " has format version ", version,
                                            "; this descentd reads version ", kFormatVersion));
  }
  return absl::OkStatus();
}

absl::Status CheckComplete(const Reader& in, const char* what) {
  if (!in.ok() || !in.done()) {
    return absl::DataLossError(absl::StrCat("stored ", what, " is truncated or corrupt"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeCheckpoint(const TrainerCheckpoint& checkpoint) {
  Writer out;
  out.Put<uint32_t>(kCheckpointMagic);
  out.Put<uint32_t>(kFormatVersion);
  out.Put<int64_t>(checkpoint.step);
  out.Put<int32_t>(checkpoint.epoch);
  PutParameters(out, checkpoint.parameters);
  out.Put<int64_t>(checkpoint.optimizer.steps);
  out.Put<uint64_t>(checkpoint.optimizer.buffers.size());
  for (const std::vector<float>& buffer : checkpoint.optimizer.buffers) out.PutVector(buffer);
  out.Put<double>(checkpoint.epoch_loss_sum);
  out.PutVector(checkpoint.epoch_metric_sums);
  const DiagnosisState& diagnosis = checkpoint.diagnosis;
  out.Put<int64_t>(diagnosis.steps);
  out.Put<double>(diagnosis.first_loss);
  out.Put<double>(diagnosis.start_sum);
  out.Put<int64_t>(diagnosis.start_count);
  out.Put<int64_t>(diagnosis.diverged_step);
  out.Put<double>(diagnosis.diverged_loss);
  PutCurve(out, diagnosis.step_curve);
  PutCurve(out, diagnosis.epoch_curve);
  return out.Take();
}

absl::StatusOr<TrainerCheckpoint> DecodeCheckpoint(std::string_view bytes) {
  Reader in(bytes);
  RETURN_IF_ERROR(CheckHeader(in, kCheckpointMagic, "checkpoint"));
  TrainerCheckpoint checkpoint;
  checkpoint.step = in.Get<int64_t>();
  checkpoint.epoch = in.Get<int32_t>();
  checkpoint.parameters = GetParameters(in);
  checkpoint.optimizer.steps = in.Get<int64_t>();
  checkpoint.optimizer.buffers.resize(in.GetCount());
  for (std::vector<float>& buffer : checkpoint.optimizer.buffers) {
    buffer = in.GetVector<float>();
  }
  checkpoint.epoch_loss_sum = in.Get<double>();
  checkpoint.epoch_metric_sums = in.GetVector<double>();
  DiagnosisState& diagnosis = checkpoint.diagnosis;
  diagnosis.steps = in.Get<int64_t>();
  diagnosis.first_loss = in.Get<double>();
  diagnosis.start_sum = in.Get<double>();
  diagnosis.start_count = in.Get<int64_t>();
  diagnosis.diverged_step = in.Get<int64_t>();
  diagnosis.diverged_loss = in.Get<double>();
  diagnosis.step_curve = GetCurve(in);
  diagnosis.epoch_curve = GetCurve(in);
  RETURN_IF_ERROR(CheckComplete(in, "checkpoint"));
  return checkpoint;
}

std::string EncodeModel(const TrainedModel& model) {
  Writer out;
  out.Put<uint32_t>(kModelMagic);
  out.Put<uint32_t>(kFormatVersion);
  out.Put<int32_t>(model.inputs);
  PutParameters(out, model.parameters);
  out.Put<uint64_t>(model.activations.size());
  for (Activation activation : model.activations) out.Put<int32_t>(static_cast<int>(activation));
  out.Put<int32_t>(static_cast<int>(model.loss.kind));
  out.PutVector(model.loss.pos_weight);
  out.PutVector(model.loss.class_weights);
  out.Put<float>(model.loss.label_smoothing);
  for (const std::vector<std::string>* names : {&model.feature_names, &model.class_names}) {
    out.Put<uint64_t>(names->size());
    for (const std::string& name : *names) out.PutString(name);
  }
  return out.Take();
}

absl::StatusOr<TrainedModel> DecodeModel(std::string_view bytes) {
  Reader in(bytes);
  RETURN_IF_ERROR(CheckHeader(in, kModelMagic, "model"));
  TrainedModel model;
  model.inputs = in.Get<int32_t>();
  model.parameters = GetParameters(in);
  model.activations.resize(in.GetCount());
  for (Activation& activation : model.activations) {
    const int32_t value = in.Get<int32_t>();
    if (value < 0 || value > static_cast<int>(Activation::kGelu)) {
      return absl::DataLossError("stored model has an unknown activation");
    }
    activation = static_cast<Activation>(value);
  }
  const int32_t loss = in.Get<int32_t>();
  if (loss < 0 || loss > static_cast<int>(LossKind::kCategoricalCrossEntropy)) {
    return absl::DataLossError("stored model has an unknown loss");
  }
  model.loss.kind = static_cast<LossKind>(loss);
  model.loss.pos_weight = in.GetVector<float>();
  model.loss.class_weights = in.GetVector<float>();
  model.loss.label_smoothing = in.Get<float>();
  for (std::vector<std::string>* names : {&model.feature_names, &model.class_names}) {
    names->resize(in.GetCount());
    for (std::string& name : *names) name = in.GetString();
  }
  RETURN_IF_ERROR(CheckComplete(in, "model"));
  return model;
}

}  // namespace descent::server
