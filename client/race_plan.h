// The jobs of one `descent race`: ordinary jobs that differ only in their optimizer (kind
// and learning rate), tagged with one JobSpec.group so that any later `descent race --watch
// GROUP` finds them again. Everything else is the job file's: the data, the model, the batches
// and training.seed, which fixes the initial weights, the validation split and the batch
// order, so every optimizer starts from the same weights and sees the same batches.
#ifndef DESCENT_CLIENT_RACE_PLAN_H_
#define DESCENT_CLIENT_RACE_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
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

// One job spec per racer, in order: `base` with the racer's optimizer, group `group` and the
// name "<base name> <label>". INVALID_ARGUMENT for fewer than two racers, a racer ParseRacer
// refuses, the same label twice, or a base that is a learning-rate range test.
absl::StatusOr<std::vector<v1::JobSpec>> RaceSpecs(const v1::JobSpec& base,
                                                   const std::vector<std::string>& racers,
                                                   const std::string& group);

// A fresh group id, "race-" and 12 random hex digits.
std::string NewRaceGroup();

}  // namespace descent::client

#endif  // DESCENT_CLIENT_RACE_PLAN_H_
