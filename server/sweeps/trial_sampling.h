// A sweep's trials: which values each takes (grid or seeded random sampling) and the job spec
// that makes of the base.
#ifndef DESCENT_SERVER_SWEEPS_TRIAL_SAMPLING_H_
#define DESCENT_SERVER_SWEEPS_TRIAL_SAMPLING_H_

#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "descent/v1/sweeps.pb.h"
#include "descent/v1/training.pb.h"
#include "google/protobuf/struct.pb.h"

namespace descent::server {

// One trial's value for each of the spec's parameters, in their order.
using TrialValues = std::vector<google::protobuf::Value>;

// The sampling a spec uses: its own, or GRID when every parameter is discrete (values,
// intRange) and trials is 0, else RANDOM.
v1::Sampling SamplingOf(const v1::SweepSpec& spec);

// Every trial's values, for a spec ValidateSweepSpec accepted. GRID: the combinations in
// order, the last parameter changing fastest, the first `trials` (0: all). RANDOM: trial i's
// value of parameter j is drawn from its own seed (the spec's seed, j and i), so the same
// seed gives the same trials on every platform, and more trials keep the first ones.
// INVALID_ARGUMENT naming the field: GRID with a continuous parameter, a grid larger than
// 1000 trials or than `trials` asks for, RANDOM without trials.
absl::StatusOr<std::vector<TrialValues>> SampleTrials(const v1::SweepSpec& spec);

// The base with the trial's values set in parameter order (parameter_paths.h) and `group`.
// INVALID_ARGUMENT naming the trial, the path and the value that does not fit.
absl::StatusOr<v1::JobSpec> TrialSpec(const v1::SweepSpec& spec, const TrialValues& values,
                                      int trial_index, absl::string_view group);

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_TRIAL_SAMPLING_H_
