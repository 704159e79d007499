// How the CLI shows a sweep: its trials as a table (parameters, step, objective, state), a
// line per trial event, and the summary that names the best trial and the steps early
// stopping saved. Pure text; sweep_commands.cc prints it.
#ifndef DESCENT_CLIENT_SWEEP_VIEW_H_
#define DESCENT_CLIENT_SWEEP_VIEW_H_

#include <string>

#include "descent/v1/sweeps.pb.h"

namespace descent::client {

// "validation loss" for VALIDATION_LOSS (unset too), "train accuracy", ...
std::string ObjectiveName(const v1::SweepSpec& spec);

// "optimizer=adam optimizer.learningRate=0.00316": each parameter by its path, numbers to 4
// significant digits, strings bare, anything else as compact JSON.
std::string TrialParameters(const v1::Trial& trial);

// "SUCCEEDED", "STOPPED", ... (the TrialState without its prefix).
std::string TrialStateName(v1::TrialState state);

// One line per trial, in index order, under a header:
//   TRIAL  PARAMETERS ...  STEP  VALIDATION LOSS  STATE  JOB
// then, with `notes`, for each stopped trial "trial N <reason>" and for each failed one its
// error.
std::string FormatTrialTable(const v1::Sweep& sweep, bool notes = true);

// For each stopped trial "trial N <reason>" and for each failed one its error, a line each.
std::string FormatTrialNotes(const v1::Sweep& sweep);

// "trial 2 started: job-... (optimizer=sgd)", "trial 2 stopped at step 20: ...",
// "trial 0 SUCCEEDED at step 1500: validation loss 0.3181"; empty for REPORTED events.
std::string FormatTrialEvent(const v1::Sweep& sweep, const v1::TrialEvent& event);

// "best: trial 0 (optimizer=adam), validation loss 0.3181, job job-..." (or that no trial ran
// to its end) and "steps: 3060 run of 6000 for full runs (early stopping saved 2940, 49%)".
std::string FormatSweepSummary(const v1::Sweep& sweep);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_SWEEP_VIEW_H_
