#include "server/sweeps/trial_sampling.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/portable_random.h"
#include "base/status_macros.h"
#include "server/sweeps/parameter_paths.h"
#include "server/sweeps/sweep_spec.h"

namespace descent::server {
namespace {

// Separates the sweep's draws from every other use of a seed (base/portable_random.h).
constexpr uint64_t kTrialDrawStream = 0x5377656570ULL;  // "Sweep"

google::protobuf::Value Number(double value) {
  google::protobuf::Value number;
  number.set_number_value(value);
  return number;
}

int64_t IntRangeCount(const v1::IntRange& range) {
  const int64_t step = range.step() > 0 ? range.step() : 1;
  return (range.max() - range.min()) / step + 1;
}

bool IsDiscrete(const v1::SweepParameter& parameter) {
  return parameter.has_values() || parameter.has_int_range();
}

// A grid parameter's values (IsDiscrete), at most `limit` + 1 of them.
std::vector<google::protobuf::Value> GridValues(const v1::SweepParameter& parameter,
                                                int64_t limit) {
  if (parameter.has_values()) {
    return {parameter.values().values().begin(), parameter.values().values().end()};
  }
  const v1::IntRange& range = parameter.int_range();
  const int64_t step = range.step() > 0 ? range.step() : 1;
  std::vector<google::protobuf::Value> values;
  for (int64_t i = 0; i < IntRangeCount(range) && i <= limit; ++i) {
    values.push_back(Number(static_cast<double>(range.min() + i * step)));
  }
  return values;
}

absl::StatusOr<std::vector<TrialValues>> Grid(const v1::SweepSpec& spec) {
  std::vector<std::vector<google::protobuf::Value>> axes;
  int64_t size = 1;
  for (int i = 0; i < spec.parameters_size(); ++i) {
    const v1::SweepParameter& parameter = spec.parameters(i);
    if (!IsDiscrete(parameter)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters[", i, "] (", parameter.path(),
          ") is a continuous range, which a grid cannot enumerate; give values or intRange, or "
          "set sampling RANDOM with trials"));
    }
    axes.push_back(GridValues(parameter, kMaxSweepTrials));
    size = std::min<int64_t>(size * static_cast<int64_t>(axes.back().size()), kMaxSweepTrials + 1);
  }
  if (size > kMaxSweepTrials) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the grid of these parameters has more than ", kMaxSweepTrials,
        " combinations; give fewer values, or set sampling RANDOM with trials"));
  }
  if (spec.trials() > size) {
    return absl::InvalidArgumentError(absl::StrCat("trials is ", spec.trials(), " but the grid has ",
                                                   size, " combinations; set trials 0 for all"));
  }
  const int64_t count = spec.trials() > 0 ? spec.trials() : size;
  std::vector<TrialValues> trials;
  for (int64_t t = 0; t < count; ++t) {
    TrialValues values(axes.size());
    int64_t rest = t;
    for (size_t j = axes.size(); j-- > 0;) {  // the last parameter changes fastest
      values[j] = axes[j][rest % axes[j].size()];
      rest /= static_cast<int64_t>(axes[j].size());
    }
    trials.push_back(std::move(values));
  }
  return trials;
}

google::protobuf::Value Draw(const v1::SweepParameter& parameter, base::PortableRandom& random) {
  switch (parameter.domain_case()) {
    case v1::SweepParameter::kValues: {
      const auto& values = parameter.values().values();
      return values[static_cast<int>(random.UniformIndex(values.size()))];
    }
    case v1::SweepParameter::kUniform:
      return Number(random.Uniform(parameter.uniform().min(), parameter.uniform().max()));
    case v1::SweepParameter::kLogUniform:
      return Number(std::exp(random.Uniform(std::log(parameter.log_uniform().min()),
                                            std::log(parameter.log_uniform().max()))));
    case v1::SweepParameter::kIntRange: {
      const v1::IntRange& range = parameter.int_range();
      const int64_t step = range.step() > 0 ? range.step() : 1;
      const auto index = static_cast<int64_t>(random.UniformIndex(IntRangeCount(range)));
      return Number(static_cast<double>(range.min() + index * step));
    }
    case v1::SweepParameter::DOMAIN_NOT_SET:
      break;
  }
  return {};
}

absl::StatusOr<std::vector<TrialValues>> Random(const v1::SweepSpec& spec) {
  if (spec.trials() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trials must be 1 .. ", kMaxSweepTrials, " for RANDOM sampling (got ", spec.trials(), ")"));
  }
  std::vector<TrialValues> trials;
  for (int t = 0; t < spec.trials(); ++t) {
    TrialValues values;
    for (int j = 0; j < spec.parameters_size(); ++j) {
      base::PortableRandom random(base::DeriveSeed(spec.seed(), kTrialDrawStream + j, t));
      values.push_back(Draw(spec.parameters(j), random));
    }
    trials.push_back(std::move(values));
  }
  return trials;
}

}  // namespace

v1::Sampling SamplingOf(const v1::SweepSpec& spec) {
  if (spec.sampling() != v1::SAMPLING_UNSPECIFIED) return spec.sampling();
  if (spec.trials() > 0) return v1::RANDOM;
  for (const v1::SweepParameter& parameter : spec.parameters()) {
    if (!IsDiscrete(parameter)) return v1::RANDOM;
  }
  return v1::GRID;
}

absl::StatusOr<std::vector<TrialValues>> SampleTrials(const v1::SweepSpec& spec) {
  return SamplingOf(spec) == v1::GRID ? Grid(spec) : Random(spec);
}

absl::StatusOr<v1::JobSpec> TrialSpec(const v1::SweepSpec& spec, const TrialValues& values,
                                      int trial_index, absl::string_view group) {
  v1::JobSpec trial = spec.base();
  for (int j = 0; j < spec.parameters_size() && j < static_cast<int>(values.size()); ++j) {
    const absl::Status set = SetParameter(spec.parameters(j).path(), values[j], &trial);
    if (!set.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trial ", trial_index, ", parameters[", j, "]: ", set.message()));
    }
  }
  trial.set_group(std::string(group));
  return trial;
}

}  // namespace descent::server
