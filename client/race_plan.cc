#include "client/race_plan.h"

#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace descent::client {
namespace {

constexpr const char* kKinds = "sgd, adam, rmsprop or adagrad";
constexpr size_t kMaxSweepName = 128;  // the server's bound on SweepSpec.name

// The rate `optimizer` trains with: its own, else PyTorch's default (SGD has none: 0).
double EffectiveRate(const v1::Optimizer& optimizer) {
  switch (optimizer.kind_case()) {
    case v1::Optimizer::kSgd:
      return optimizer.sgd().learning_rate();
    case v1::Optimizer::kAdam:
      return optimizer.adam().has_learning_rate() ? optimizer.adam().learning_rate() : 0.001;
    case v1::Optimizer::kRmsprop:
      return optimizer.rmsprop().has_learning_rate() ? optimizer.rmsprop().learning_rate() : 0.01;
    case v1::Optimizer::kAdagrad:
      return optimizer.adagrad().has_learning_rate() ? optimizer.adagrad().learning_rate() : 0.01;
    case v1::Optimizer::KIND_NOT_SET:
      break;
  }
  return 0.0;
}

std::string KindName(v1::Optimizer::KindCase kind) {
  switch (kind) {
    case v1::Optimizer::kSgd:
      return "sgd";
    case v1::Optimizer::kAdam:
      return "adam";
    case v1::Optimizer::kRmsprop:
      return "rmsprop";
    case v1::Optimizer::kAdagrad:
      return "adagrad";
    case v1::Optimizer::KIND_NOT_SET:
      break;
  }
  return "none";
}

// The longest prefix of `text` of at most `limit` bytes that ends on a character's boundary.
std::string Utf8Prefix(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

absl::StatusOr<v1::Optimizer> ParseRacer(const std::string& racer, const v1::Optimizer& base) {
  const std::vector<std::string> parts = absl::StrSplit(racer, absl::MaxSplits(':', 1));
  const std::string kind = absl::AsciiStrToLower(parts[0]);
  v1::Optimizer::KindCase kind_case = v1::Optimizer::KIND_NOT_SET;
  for (v1::Optimizer::KindCase candidate : {v1::Optimizer::kSgd, v1::Optimizer::kAdam,
                                            v1::Optimizer::kRmsprop, v1::Optimizer::kAdagrad}) {
    if (kind == KindName(candidate)) kind_case = candidate;
  }
  if (kind_case == v1::Optimizer::KIND_NOT_SET) {
    return absl::InvalidArgumentError(absl::StrCat("racer \"", racer, "\": \"", parts[0],
                                                   "\" is no optimizer; use ", kKinds,
                                                   ", optionally with :RATE (adam:0.001)"));
  }
  double rate = 0.0;
  const bool has_rate = parts.size() == 2;
  if (has_rate && (!absl::SimpleAtod(parts[1], &rate) || !(rate > 0) || !std::isfinite(rate))) {
    return absl::InvalidArgumentError(
        absl::StrCat("racer \"", racer, "\": the rate after ':' must be a number > 0, e.g. ",
                     kind, ":0.01"));
  }
  // The base's own options when it is the same kind, else the kind's defaults.
  v1::Optimizer optimizer;
  if (base.kind_case() == kind_case) optimizer = base;
  switch (kind_case) {
    case v1::Optimizer::kSgd:
      if (has_rate) optimizer.mutable_sgd()->set_learning_rate(rate);
      if (!optimizer.sgd().has_learning_rate()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "racer \"", racer, "\": SGD has no default learning rate and the job file's ",
            "optimizer is not SGD; give one, e.g. sgd:0.01 (descent lr-find suggests one)"));
      }
      break;
    case v1::Optimizer::kAdam:
      optimizer.mutable_adam();
      if (has_rate) optimizer.mutable_adam()->set_learning_rate(rate);
      break;
    case v1::Optimizer::kRmsprop:
      optimizer.mutable_rmsprop();
      if (has_rate) optimizer.mutable_rmsprop()->set_learning_rate(rate);
      break;
    case v1::Optimizer::kAdagrad:
      optimizer.mutable_adagrad();
      if (has_rate) optimizer.mutable_adagrad()->set_learning_rate(rate);
      break;
    case v1::Optimizer::KIND_NOT_SET:
      break;
  }
  return optimizer;
}

std::string RacerLabel(const v1::Optimizer& optimizer) {
  return absl::StrCat(KindName(optimizer.kind_case()), ":",
                      absl::StrFormat("%g", EffectiveRate(optimizer)));
}

absl::StatusOr<v1::SweepSpec> RaceSweep(const v1::JobSpec& base,
                                        const std::vector<std::string>& racers,
                                        const std::string& file_name) {
  if (racers.size() < 2) {
    return absl::InvalidArgumentError(
        "a race needs at least two optimizers, e.g. descent race JOB.json sgd:0.01 adam rmsprop");
  }
  if (racers.size() > static_cast<size_t>(kMaxRacers)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a race runs all its optimizers at once, at most ", kMaxRacers, " (got ", racers.size(),
        "); race fewer, or run a sweep with maxConcurrentTrials (descent sweep submit)"));
  }
  if (base.has_lr_find()) {
    return absl::InvalidArgumentError(
        "the job file is a learning-rate range test (lrFind): a race trains; remove lrFind");
  }
  v1::SweepSpec sweep;
  sweep.set_name(Utf8Prefix(absl::StrCat(base.name().empty() ? file_name : base.name(), " race"),
                            kMaxSweepName));
  *sweep.mutable_base() = base;
  sweep.mutable_base()->clear_group();
  v1::SweepParameter& parameter = *sweep.add_parameters();
  parameter.set_path("optimizer");
  absl::flat_hash_set<std::string> labels;
  for (const std::string& racer : racers) {
    absl::StatusOr<v1::Optimizer> optimizer = ParseRacer(racer, base.optimizer());
    if (!optimizer.ok()) return optimizer.status();
    const std::string label = RacerLabel(*optimizer);
    if (!labels.insert(label).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "racer \"", racer, "\" is ", label, " again; give each optimizer once (or another rate)"));
    }
    // As a sweep file would give it: the optimizer's JSON, read back as a JSON value.
    std::string json;
    google::protobuf::Value value;
    if (!google::protobuf::util::MessageToJsonString(*optimizer, &json).ok() ||
        !google::protobuf::util::JsonStringToMessage(json, &value).ok()) {
      return absl::InternalError(absl::StrCat("racer \"", racer, "\" has no JSON form"));
    }
    *parameter.mutable_values()->add_values() = std::move(value);
  }
  sweep.set_sampling(v1::GRID);
  sweep.set_trials(0);
  sweep.set_max_concurrent_trials(static_cast<int>(racers.size()));
  sweep.mutable_objective()->set_metric(
      base.training().validation_fraction() > 0 ? v1::VALIDATION_LOSS : v1::TRAIN_LOSS);
  return sweep;
}

absl::StatusOr<v1::Optimizer> TrialOptimizer(const v1::SweepSpec& spec, const v1::Trial& trial) {
  if (spec.parameters_size() != 1 || spec.parameters(0).path() != "optimizer" ||
      trial.parameters_size() != 1) {
    return absl::InvalidArgumentError(
        "it varies more than the optimizer, so it is no race; descent sweep watch follows it");
  }
  const google::protobuf::Value& value = trial.parameters(0).value();
  if (value.has_string_value()) return ParseRacer(value.string_value(), spec.base().optimizer());
  v1::Optimizer optimizer;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(value, &json);
  if (!value.has_struct_value() ||
      !google::protobuf::util::JsonStringToMessage(json, &optimizer).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial ", trial.index(), "'s optimizer ", json, " is no optimizer"));
  }
  return optimizer;
}

}  // namespace descent::client
