#include "server/store/legacy_blobs.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

constexpr uint32_t kCheckpointMagic = 0x4b434344;  // "DCCK"
constexpr uint32_t kModelMagic = 0x4c4d4344;       // "DCML"
constexpr uint32_t kFormatVersion = 1;

static_assert(std::endian::native == std::endian::little,
              "version 1 blobs are little-endian, read by copying them into host values");

// Reads fixed-width values; any read past the end sets a sticky failure and yields zeros, so
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
  // A length-prefixed array of T appended to `out` (a repeated proto field).
  template <typename T, typename Field>
  void GetArray(Field* out) {
    const uint64_t count = Get<uint64_t>();
    if (failed_ || count > in_.size() / sizeof(T)) {
      failed_ = true;
      return;
    }
    for (uint64_t i = 0; i < count; ++i) out->Add(Get<T>());
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

void GetLayers(Reader& in, google::protobuf::RepeatedPtrField<store::v1::Layer>* layers) {
  for (uint64_t count = in.GetCount(); count > 0 && in.ok(); --count) {
    store::v1::Layer& layer = *layers->Add();
    layer.set_rows(in.Get<int32_t>());
    layer.set_cols(in.Get<int32_t>());
    in.GetArray<float>(layer.mutable_weight());
    in.GetArray<float>(layer.mutable_bias());
  }
}

void GetCurve(Reader& in, store::v1::LossCurve* curve) {
  in.GetArray<double>(curve->mutable_means());
  in.GetArray<int64_t>(curve->mutable_last_steps());
  curve->set_bucket_width(in.Get<int64_t>());
  curve->set_pending_sum(in.Get<double>());
  curve->set_pending_count(in.Get<int64_t>());
  curve->set_pending_last_step(in.Get<int64_t>());
}

absl::Status CheckHeader(Reader& in, uint32_t magic, const char* what) {
  const uint32_t found_magic = in.Get<uint32_t>();
  const uint32_t version = in.Get<uint32_t>();
  if (!in.ok() || found_magic != magic || version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("stored ", what, " is not in store version 1's format"));
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

absl::StatusOr<store::v1::Checkpoint> DecodeVersion1Checkpoint(std::string_view bytes) {
  Reader in(bytes);
  RETURN_IF_ERROR(CheckHeader(in, kCheckpointMagic, "checkpoint"));
  store::v1::Checkpoint checkpoint;
  checkpoint.set_step(in.Get<int64_t>());
  checkpoint.set_epoch(in.Get<int32_t>());
  GetLayers(in, checkpoint.mutable_parameters());
  checkpoint.set_optimizer_steps(in.Get<int64_t>());
  for (uint64_t count = in.GetCount(); count > 0 && in.ok(); --count) {
    in.GetArray<float>(checkpoint.add_optimizer_buffers()->mutable_values());
  }
  checkpoint.set_epoch_loss_sum(in.Get<double>());
  in.GetArray<double>(checkpoint.mutable_epoch_metric_sums());
  store::v1::DiagnosisState& diagnosis = *checkpoint.mutable_diagnosis();
  diagnosis.set_steps(in.Get<int64_t>());
  diagnosis.set_first_loss(in.Get<double>());
  diagnosis.set_start_sum(in.Get<double>());
  diagnosis.set_start_count(in.Get<int64_t>());
  diagnosis.set_diverged_step(in.Get<int64_t>());
  diagnosis.set_diverged_loss(in.Get<double>());
  GetCurve(in, diagnosis.mutable_step_curve());
  GetCurve(in, diagnosis.mutable_epoch_curve());
  RETURN_IF_ERROR(CheckComplete(in, "checkpoint"));
  return checkpoint;
}

absl::StatusOr<store::v1::Model> DecodeVersion1Model(std::string_view bytes) {
  Reader in(bytes);
  RETURN_IF_ERROR(CheckHeader(in, kModelMagic, "model"));
  store::v1::Model model;
  model.set_inputs(in.Get<int32_t>());
  GetLayers(in, model.mutable_parameters());
  // Version 1 wrote the engine's enum order, which the store's enums follow from 1 up.
  for (uint64_t count = in.GetCount(); count > 0 && in.ok(); --count) {
    const int32_t activation = in.Get<int32_t>();
    if (activation < 0 || activation >= store::v1::Activation_MAX) {
      return absl::DataLossError("stored model has an unknown activation");
    }
    model.add_activations(static_cast<store::v1::Activation>(activation + 1));
  }
  const int32_t loss = in.Get<int32_t>();
  if (loss < 0 || loss >= store::v1::Loss_MAX) {
    return absl::DataLossError("stored model has an unknown loss");
  }
  model.set_loss(static_cast<store::v1::Loss>(loss + 1));
  in.GetArray<float>(model.mutable_pos_weight());
  in.GetArray<float>(model.mutable_class_weights());
  model.set_label_smoothing(in.Get<float>());
  for (auto* names : {model.mutable_feature_names(), model.mutable_class_names()}) {
    for (uint64_t count = in.GetCount(); count > 0 && in.ok(); --count) {
      names->Add(in.GetString());
    }
  }
  RETURN_IF_ERROR(CheckComplete(in, "model"));
  return model;
}

}  // namespace descent::server
