#include "client/sweep_view.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"

namespace descent::client {
namespace {

std::string ValueText(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      return absl::StrFormat("%.4g", value.number_value());
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    default: {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(value, &json);
      return json;
    }
  }
}

std::string Objective(const v1::Trial& trial) {
  return trial.has_objective() ? absl::StrFormat("%.4g", trial.objective()) : "-";
}

}  // namespace

std::string ObjectiveName(const v1::SweepSpec& spec) {
  const v1::ObjectiveMetric metric = spec.objective().metric() == v1::OBJECTIVE_METRIC_UNSPECIFIED
                                         ? v1::VALIDATION_LOSS
                                         : spec.objective().metric();
  return absl::AsciiStrToLower(absl::StrReplaceAll(v1::ObjectiveMetric_Name(metric), {{"_", " "}}));
}

std::string TrialParameters(const v1::Trial& trial) {
  std::vector<std::string> parts;
  for (const v1::TrialParameter& parameter : trial.parameters()) {
    parts.push_back(absl::StrCat(parameter.path(), "=", ValueText(parameter.value())));
  }
  return absl::StrJoin(parts, " ");
}

std::string TrialStateName(v1::TrialState state) {
  const std::string& name = v1::TrialState_Name(state);
  return name.rfind("TRIAL_", 0) == 0 ? name.substr(6) : name;
}

std::string FormatTrialTable(const v1::Sweep& sweep, bool with_notes) {
  const std::string objective = absl::AsciiStrToUpper(ObjectiveName(sweep.spec()));
  size_t width = std::string("PARAMETERS").size();
  for (const v1::Trial& trial : sweep.trials()) width = std::max(width, TrialParameters(trial).size());
  std::string text = absl::StrFormat("%-6s %-*s  %-13s %-*s  %-10s %s\n", "TRIAL", width,
                                     "PARAMETERS", "STEP", objective.size(), objective, "STATE",
                                     "JOB");
  for (const v1::Trial& trial : sweep.trials()) {
    const bool best = sweep.has_best_trial() && sweep.best_trial() == trial.index();
    absl::StrAppendFormat(&text, "%-6s %-*s  %-13s %-*s  %-10s %s\n",
                          absl::StrCat(trial.index(), best ? " *" : ""), width,
                          TrialParameters(trial),
                          absl::StrCat(trial.step(), "/", trial.total_steps()), objective.size(),
                          Objective(trial), TrialStateName(trial.state()),
                          trial.job_id().empty() ? "-" : trial.job_id());
  }
  return with_notes ? text + FormatTrialNotes(sweep) : text;
}

std::string FormatTrialNotes(const v1::Sweep& sweep) {
  std::string notes;
  for (const v1::Trial& trial : sweep.trials()) {
    if (trial.state() == v1::TRIAL_STOPPED) {
      absl::StrAppend(&notes, "trial ", trial.index(), " ", trial.stop_reason(), "\n");
    } else if (trial.state() == v1::TRIAL_FAILED) {
      absl::StrAppend(&notes, "trial ", trial.index(), " failed: ", trial.error(), "\n");
    }
  }
  return notes;
}

std::string FormatTrialEvent(const v1::Sweep& sweep, const v1::TrialEvent& event) {
  const bool known = event.trial() >= 0 && event.trial() < sweep.trials_size();
  const std::string parameters = known ? TrialParameters(sweep.trials(event.trial())) : "";
  switch (event.kind()) {
    case v1::TrialEvent::STARTED:
      return absl::StrCat("trial ", event.trial(), " started: ", event.job_id(), " (",
                          parameters, ")\n");
    case v1::TrialEvent::STOPPED:
      return absl::StrCat("trial ", event.trial(), " ", event.reason(), "\n");
    case v1::TrialEvent::FINISHED:
      return absl::StrCat("trial ", event.trial(), " ", TrialStateName(event.state()), " (",
                          parameters, ")\n");
    default:
      return "";
  }
}

std::string FormatSweepSummary(const v1::Sweep& sweep) {
  std::string text;
  if (sweep.has_best_trial() && sweep.best_trial() < sweep.trials_size()) {
    const v1::Trial& best = sweep.trials(sweep.best_trial());
    absl::StrAppend(&text, "best: trial ", best.index(), " (", TrialParameters(best), "), ",
                    ObjectiveName(sweep.spec()), " ", Objective(best), ", job ", best.job_id(),
                    "\n");
  } else {
    absl::StrAppend(&text, "best: none (no trial ran to its end)\n");
  }
  if (sweep.steps_full() > 0) {
    const int64_t saved = sweep.steps_full() - sweep.steps_run();
    absl::StrAppendFormat(&text,
                          "steps: %d run of %d for full runs (early stopping saved %d, %.0f%%)\n",
                          sweep.steps_run(), sweep.steps_full(), saved,
                          100.0 * static_cast<double>(saved) / sweep.steps_full());
  }
  return text;
}

}  // namespace descent::client
