#include "client/race_standings.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/output.h"

namespace descent::client {
namespace {

constexpr double kNearBest = 1.1;  // "within 10% of the best"

std::optional<double> EpochLoss(const v1::EpochSummary& epoch, RaceMetric metric) {
  const double loss =
      metric == RaceMetric::kValidationLoss ? epoch.validation().loss() : epoch.train().loss();
  if (!std::isfinite(loss)) return std::nullopt;
  return loss;
}

std::string Verdict(const v1::Job& job) {
  if (job.state() == v1::SUCCEEDED || job.diagnosis().verdict() == v1::DIVERGED) {
    return VerdictName(job.diagnosis().verdict());
  }
  return StateName(job.state());
}

}  // namespace

RaceMetric MetricOf(const std::vector<RaceRun>& runs) {
  for (const RaceRun& run : runs) {
    if (run.job.spec().training().validation_fraction() > 0) return RaceMetric::kValidationLoss;
  }
  return RaceMetric::kTrainLoss;
}

std::vector<RaceStanding> RankRace(const std::vector<RaceRun>& runs) {
  const RaceMetric metric = MetricOf(runs);
  std::vector<RaceStanding> standings(runs.size());
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < runs.size(); ++i) {
    RaceStanding& standing = standings[i];
    standing.run = i;
    standing.verdict = Verdict(runs[i].job);
    if (!runs[i].epochs.empty()) standing.final_loss = EpochLoss(runs[i].epochs.back(), metric);
    if (standing.final_loss) best = std::min(best, *standing.final_loss);
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!std::isfinite(best)) break;
    for (const v1::EpochSummary& epoch : runs[i].epochs) {
      const std::optional<double> loss = EpochLoss(epoch, metric);
      if (loss && *loss <= kNearBest * best) {
        standings[i].steps_to_near_best = epoch.last_step();
        break;
      }
    }
  }
  // Lowest final loss first; the runs without one after them, in their order.
  std::stable_sort(standings.begin(), standings.end(),
                   [](const RaceStanding& a, const RaceStanding& b) {
                     if (a.final_loss.has_value() != b.final_loss.has_value()) {
                       return a.final_loss.has_value();
                     }
                     return a.final_loss && *a.final_loss < *b.final_loss;
                   });
  for (size_t i = 0; i < standings.size(); ++i) standings[i].rank = static_cast<int>(i) + 1;
  return standings;
}

std::string FormatRaceTable(const std::vector<RaceRun>& runs,
                            const std::vector<RaceStanding>& standings) {
  const std::string loss_header = MetricOf(runs) == RaceMetric::kValidationLoss
                                      ? "FINAL VAL LOSS"
                                      : "FINAL TRAIN LOSS";
  size_t label_width = 9;
  for (const RaceRun& run : runs) label_width = std::max(label_width, run.label.size());
  std::string out = absl::StrFormat("%-4s  %-*s  %-16s  %-18s  %-10s  %s\n", "RANK",
                                    static_cast<int>(label_width), "OPTIMIZER", loss_header,
                                    "WITHIN 10% OF BEST", "VERDICT", "JOB");
  for (const RaceStanding& standing : standings) {
    const RaceRun& run = runs[standing.run];
    const std::string loss =
        standing.final_loss ? absl::StrFormat("%.4g", *standing.final_loss) : std::string("-");
    const std::string near =
        standing.steps_to_near_best ? absl::StrCat("step ", *standing.steps_to_near_best)
                                    : std::string("never");
    absl::StrAppend(&out, absl::StrFormat("%-4d  %-*s  %-16s  %-18s  %-10s  %s\n", standing.rank,
                                          static_cast<int>(label_width), run.label, loss, near,
                                          standing.verdict, run.job.id()));
  }
  return out;
}

google::protobuf::Struct RaceToStruct(const std::string& group, const std::vector<RaceRun>& runs,
                                      const std::vector<RaceStanding>& standings) {
  google::protobuf::Struct race;
  auto& fields = *race.mutable_fields();
  fields["group"].set_string_value(group);
  fields["metric"].set_string_value(MetricOf(runs) == RaceMetric::kValidationLoss
                                        ? "VALIDATION_LOSS"
                                        : "TRAIN_LOSS");
  google::protobuf::ListValue& list = *fields["runs"].mutable_list_value();
  for (const RaceStanding& standing : standings) {
    const RaceRun& run = runs[standing.run];
    auto& entry = *list.add_values()->mutable_struct_value()->mutable_fields();
    entry["rank"].set_number_value(standing.rank);
    entry["optimizer"].set_string_value(run.label);
    entry["jobId"].set_string_value(run.job.id());
    entry["state"].set_string_value(StateName(run.job.state()));
    entry["steps"].set_number_value(static_cast<double>(run.job.progress().step()));
    if (standing.final_loss) {
      entry["finalLoss"].set_number_value(*standing.final_loss);
    } else {
      entry["finalLoss"].set_null_value(google::protobuf::NULL_VALUE);
    }
    if (standing.steps_to_near_best) {
      entry["stepsToWithin10PercentOfBest"].set_number_value(
          static_cast<double>(*standing.steps_to_near_best));
    } else {
      entry["stepsToWithin10PercentOfBest"].set_null_value(google::protobuf::NULL_VALUE);
    }
    entry["verdict"].set_string_value(standing.verdict);
  }
  return race;
}

}  // namespace descent::client
