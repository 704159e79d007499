// One `descent race` as a sweep over the optimizer alone: the job file is the sweep's base and
// its one parameter, `optimizer`, takes each racer's whole optimizer (kind, rate and options) as
// a JSON object, one grid trial per racer in their order. Everything else is the job file's: the
// data, the model, the batches and training.seed (a sweep keeps the base's seed for every
// trial), which fixes the initial weights, the validation split and the batch order, so every
// optimizer starts from the same weights and sees the same batches. Races made before they were
// sweeps are ordinary jobs tagged with a group "race-" and 12 hex digits, still found by it.
#ifndef DESCENT_CLIENT_RACE_PLAN_H_
#define DESCENT_CLIENT_RACE_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "descent/v1/sweeps.pb.h"
#include "descent/v1/training.pb.h"

namespace descent::client {

// The optimizer a racer argument names: "sgd", "adam", "rmsprop" or "adagrad", optionally
// with ":RATE" ("rmsprop:0.001"). Without a rate: the base's optimizer when it is the same
// kind (its rate and other options), else PyTorch's default rate (Adam 0.001, RMSprop and
// Adagrad 0.01); SGD has no default, so "sgd" alone needs a base SGD optimizer.
// INVALID_ARGUMENT naming the argument and the fix otherwise.
absl::StatusOr<v1::Optimizer> ParseRacer(const std::string& racer, const v1::Optimizer& base);

// "adam:0.001": the optimizer's kind and the rate it trains with (its default when unset).
std::string RacerLabel(const v1::Optimizer& optimizer);

// The most racers a race takes: the server's upper bound on a sweep's maxConcurrentTrials
// (server/sweeps/sweep_spec.h), since every racer runs at once, as the trials of one sweep.
inline constexpr int kMaxRacers = 64;

// The race's sweep: name "<base name> race" (`file_name` when the base has none), base `base`
// (its group cleared: the sweep sets it), one parameter {path "optimizer", values: each racer's
// optimizer as a JSON object}, GRID sampling of every value (trials 0), every trial at once
// (maxConcurrentTrials = the racers), no early stopping (every run goes to its end), and the
// objective the ranking uses: VALIDATION_LOSS when the base holds some data out, else
// TRAIN_LOSS. INVALID_ARGUMENT for fewer than two racers or more than kMaxRacers, a racer
// ParseRacer refuses, the same label twice, or a base that is a learning-rate range test.
absl::StatusOr<v1::SweepSpec> RaceSweep(const v1::JobSpec& base,
                                        const std::vector<std::string>& racers,
                                        const std::string& file_name);

// The optimizer a race's trial trains with, from its `optimizer` parameter: an object is the
// whole optimizer; a name (a sweep file's "adam") is ParseRacer's reading of it against the
// base. INVALID_ARGUMENT when the sweep varies anything but the optimizer (it is no race) or the
// value is not an optimizer.
absl::StatusOr<v1::Optimizer> TrialOptimizer(const v1::SweepSpec& spec, const v1::Trial& trial);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_RACE_PLAN_H_
