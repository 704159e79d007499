// `descent lr-find JOB.json [--min 1e-7] [--max 10] [--steps 100]`: runs the job file's model
// through a learning-rate range test on descentd (JobSpec.lr_find) and shows what it found.
// Exit codes as in commands.h: 0 with a suggestion, 1 when the test failed (it diverged too
// early to suggest a rate) or was cancelled, 2 for a bad file or flag, 3 unreachable.
#ifndef DESCENT_CLIENT_LR_FIND_COMMAND_H_
#define DESCENT_CLIENT_LR_FIND_COMMAND_H_

#include <optional>
#include <string>

#include "client/commands.h"
#include "client/loss_chart.h"

namespace descent::client {

struct LrFindOptions {
  // Unset: the job file's lrFind values, else the server's defaults (1e-7, 10, 100).
  std::optional<double> min_learning_rate;
  std::optional<double> max_learning_rate;
  std::optional<int> steps;
  int chart_height = 16;
};

// Submits the range test and follows it (a live line on a terminal). Text: the smoothed loss
// against the learning rate (log x axis) with the suggestion marked, the suggestion and its
// reason, the other candidates, where the test stopped. -o json: the job's LrFindResult as
// one line (suggestedLearningRate, suggestion, candidates, points).
int RunLrFind(const CommandContext& ctx, const std::string& spec_path,
              const LrFindOptions& options);

// The text report of a finished range test: chart (without the last five points, as
// fastai's plot), suggestion, candidates.
std::string FormatLrFindReport(const v1::LrFindResult& result, const LossChartOptions& chart);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_LR_FIND_COMMAND_H_
