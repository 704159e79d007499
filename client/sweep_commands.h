// `descent sweep submit FILE [--watch]`, `sweep watch|get|list|cancel`: sweeps of a job file
// run by descentd (proto/descent/v1/sweeps.proto). Exit codes as in commands.h: watch (and
// submit --watch) 0 when the sweep ended with a best trial, 1 when it was cancelled or no
// trial ran to its end; 2 for a bad file or an unknown sweep; 3 unreachable.
#ifndef DESCENT_CLIENT_SWEEP_COMMANDS_H_
#define DESCENT_CLIENT_SWEEP_COMMANDS_H_

#include <string>

#include "client/commands.h"
#include "client/sweep_client.h"

namespace descent::client {

struct SweepViewOptions {
  int chart_height = 16;
  int charted_trials = 4;  // the best this many trials' curves overlaid at the end
};

// Creates the sweep and prints it (text: its id and trial table; -o json: the Sweep), then
// with `watch` follows it (RunSweepWatch).
int RunSweepSubmit(const CommandContext& ctx, SweepClient& sweeps, const std::string& path,
                   bool watch, const SweepViewOptions& options);
// Follows the sweep to its end: a line per trial event (a live line of the trials' states on
// a terminal), then the trial table, the best trial, the steps early stopping saved and the
// best trials' minibatch losses overlaid in one chart. -o json: every stream message.
// A dropped stream is opened again after the last event received.
int RunSweepWatch(const CommandContext& ctx, SweepClient& sweeps, const std::string& id,
                  const SweepViewOptions& options);
int RunSweepGet(const CommandContext& ctx, SweepClient& sweeps, const std::string& id);
int RunSweepList(const CommandContext& ctx, SweepClient& sweeps);
int RunSweepCancel(const CommandContext& ctx, SweepClient& sweeps, const std::string& id);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_SWEEP_COMMANDS_H_
