// `descent race JOB.json sgd:0.01 adam rmsprop ...`: the job file trained once per optimizer,
// as a sweep over the optimizer alone (race_plan.h) whose trials' jobs are followed together
// until every run has ended; then one chart overlays their loss curves and a table ranks them
// (race_standings.h). `descent race --watch ID` follows (or shows) a race again, e.g. after
// the CLI or descentd was restarted: the sweep and its trials' jobs are durable.
// Exit codes as in commands.h: 0 when every run ended and at least one succeeded, 1 when
// none did, 2 for a bad file or racer (or an unknown race), 3 unreachable.
#ifndef DESCENT_CLIENT_RACE_COMMAND_H_
#define DESCENT_CLIENT_RACE_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/commands.h"
#include "client/race_standings.h"
#include "client/sweep_client.h"

namespace descent::client {

struct RaceOptions {
  int chart_height = 16;
};

// Creates the race's sweep (RaceSweep), prints its id, waits until every trial has its job
// (or ended without one: reported, not waited for) and follows them as RunRaceWatch does.
int RunRace(const CommandContext& ctx, SweepClient& sweeps, const std::string& spec_path,
            const std::vector<std::string>& racers, const RaceOptions& options);

// Follows `runs` (their jobs as listed or submitted) to their ends, one watcher thread each,
// with a live line of each run's step on a terminal; every run's losses and epochs. A run
// without a job id (a trial that ended before its job was submitted) is taken as it is. A
// sweep's best trials are charted from it too. The first watcher's error, if any.
absl::StatusOr<std::vector<RaceRun>> FollowRace(const CommandContext& ctx,
                                                std::vector<RaceRun> runs);

// Follows every trial's job of the race `id` (a sweep id) to its end (a live line of each
// run's step on a terminal), then prints the overlay chart and the ranking; -o json: one object
// (RaceToStruct). A race made before races were sweeps is a group of jobs ("race-" and 12 hex
// digits): an id that starts so, or that is no sweep, is looked up as a group.
int RunRaceWatch(const CommandContext& ctx, SweepClient& sweeps, const std::string& id,
                 const RaceOptions& options);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_RACE_COMMAND_H_
