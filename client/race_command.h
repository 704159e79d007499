// `descent race JOB.json sgd:0.01 adam rmsprop ...`: the job file trained once per optimizer,
// as ordinary jobs tagged with one group id (race_plan.h), followed together until every run
// has ended; then one chart overlays their loss curves and a table ranks them
// (race_standings.h). `descent race --watch GROUP` follows (or shows) a race again, e.g.
// after the CLI or descentd was restarted: the runs are durable jobs like any other.
// Exit codes as in commands.h: 0 when every run ended and at least one succeeded, 1 when
// none did, 2 for a bad file or racer (or an unknown group), 3 unreachable.
#ifndef DESCENT_CLIENT_RACE_COMMAND_H_
#define DESCENT_CLIENT_RACE_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/commands.h"
#include "client/race_standings.h"

namespace descent::client {

struct RaceOptions {
  int chart_height = 16;
};

// Submits one job per racer (retries are idempotent: each submission's request id is the
// group and the racer) and follows them (RunRaceWatch).
int RunRace(const CommandContext& ctx, const std::string& spec_path,
            const std::vector<std::string>& racers, const RaceOptions& options);

// Follows `runs` (their jobs as listed or submitted) to their ends, one watcher thread each,
// with a live line of each run's step on a terminal; every run's losses and epochs. A sweep's
// best trials are charted from it too. The first watcher's error, if any.
absl::StatusOr<std::vector<RaceRun>> FollowRace(const CommandContext& ctx,
                                                std::vector<RaceRun> runs);

// Follows every job of `group` to its end (a live line of each run's step on a terminal),
// then prints the overlay chart and the ranking; -o json: one object (RaceToStruct).
int RunRaceWatch(const CommandContext& ctx, const std::string& group, const RaceOptions& options);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_RACE_COMMAND_H_
