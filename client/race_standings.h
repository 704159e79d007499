// How the runs of a race compare once they have run: each run's final loss, how soon it came
// within 10% of the best final loss, and its verdict, ranked; as a table and as JSON.
#ifndef DESCENT_CLIENT_RACE_STANDINGS_H_
#define DESCENT_CLIENT_RACE_STANDINGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "descent/v1/training.pb.h"
#include "google/protobuf/struct.pb.h"

namespace descent::client {

// One run of the race as its watcher saw it.
struct RaceRun {
  std::string label;  // RacerLabel, e.g. "adam:0.001"
  v1::Job job;        // as it ended (or as it is, while it runs)
  std::vector<double> losses;             // every step's minibatch loss, from step 1
  std::vector<v1::EpochSummary> epochs;   // every finished epoch, in order
};

// The loss a race compares: the validation loss when the job file holds out a validation
// split (every run has the same), else the epoch-mean training loss.
enum class RaceMetric { kValidationLoss, kTrainLoss };

struct RaceStanding {
  size_t run = 0;  // index into the runs
  int rank = 0;    // 1 = lowest final loss; runs without one come last, in the runs' order
  // The metric at the last finished epoch; unset without a finished epoch or when not finite.
  std::optional<double> final_loss;
  // The last step of the first epoch whose metric was within 10% of the best final loss of
  // all runs (<= 1.1 x best); unset when it never got there.
  std::optional<int64_t> steps_to_near_best;
  std::string verdict;  // the diagnosis verdict, or the state of a run that did not succeed
};

RaceMetric MetricOf(const std::vector<RaceRun>& runs);

// The standings, best first.
std::vector<RaceStanding> RankRace(const std::vector<RaceRun>& runs);

// The ranking as aligned text: rank, run, final loss, within 10% of best, verdict, job.
std::string FormatRaceTable(const std::vector<RaceRun>& runs,
                            const std::vector<RaceStanding>& standings);

// The race as one JSON object (`-o json`): group, metric and one entry per run, best first
// (rank, optimizer, jobId, state, steps, finalLoss, stepsToWithin10PercentOfBest, verdict).
google::protobuf::Struct RaceToStruct(const std::string& group, const std::vector<RaceRun>& runs,
                                      const std::vector<RaceStanding>& standings);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_RACE_STANDINGS_H_
