// Several watchers of one running job on the real descentd, one of them a `descent watch`
// process killed mid-stream and resumed with after_step: each sees every step exactly once,
// in order.
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/job_watcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/descentd_process.h"
#include "tests/integration/printed_watch.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

// Counts how often each step arrived and checks the order.
class StepCounter : public client::WatchSink {
 public:
  explicit StepCounter(int64_t after_step) : last_step_(after_step) {}
  void OnLosses(int64_t first_step, const double* /*losses*/, int count) override {
    if (first_step != last_step_ + 1) ++out_of_order_;
    last_step_ = first_step + count - 1;
    steps_ += count;
  }
  int64_t last_step() const { return last_step_; }
  int64_t steps() const { return steps_; }
  int out_of_order() const { return out_of_order_; }

 private:
  int64_t last_step_;
  int64_t steps_ = 0;
  int out_of_order_ = 0;
};

// Raw stream reader (no client-side trimming), so a duplicate from the server would show.
struct RawWatch {
  std::vector<int64_t> counts;  // counts[s] = times step s arrived
  absl::Status status;
  v1::JobState final_state = v1::JOB_STATE_UNSPECIFIED;
};

RawWatch WatchRaw(client::DescentClient& client, const std::string& id, int64_t after_step,
                  int64_t total_steps) {
  RawWatch watch;
  watch.counts.assign(static_cast<size_t>(total_steps + 1), 0);
  watch.status =
      client.WatchJob(id, after_step, absl::Seconds(60), [&](const v1::WatchJobResponse& event) {
        if (event.has_losses()) {
          for (int i = 0; i < event.losses().losses_size(); ++i) {
            const int64_t step = event.losses().first_step() + i;
            if (step >= 1 && step <= total_steps) ++watch.counts[step];
          }
        }
        if (event.has_state()) watch.final_state = event.state().state();
        return true;
      });
  return watch;
}

TEST(WatchersTest, TwoWatchersAndAKilledThenResumedWatcherEachSeeEveryStepOnce) {
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server = DescentdProcess::Start();
  ASSERT_OK(server);
  auto client = (*server)->NewClient();

  // 100 epochs of 2000 samples in batches of 8: 25,000 steps, long enough to be running
  // while the watchers attach and one of them is killed.
  v1::JobSpec spec;
  spec.set_name("watchers");
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  spec.mutable_dataset()->mutable_builtin()->set_samples(2000);
  spec.mutable_model()->add_hidden_layers()->set_units(16);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.001);
  spec.mutable_training()->set_epochs(100);
  spec.mutable_training()->set_batch_size(8);
  constexpr int64_t kTotalSteps = 100 * 250;
  absl::StatusOr<v1::Job> job = client->SubmitJob(spec, "");
  ASSERT_OK(job);
  const std::string id = job->id();

  // A `descent watch` process, killed (SIGKILL) once it has printed some steps.
  std::vector<std::string> argv = {DESCENT_CLI_PATH, "--server", (*server)->address(), "-o", "json",
                                   "watch",          id};
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> cli = testing::Subprocess::Start(argv);
  ASSERT_OK(cli);

  // Two in-test watchers from the start, concurrently. jthreads: a failed assertion below
  // returns early and still waits for them (they end with the job).
  RawWatch first, second;
  std::jthread first_thread([&] { first = WatchRaw(*(*server)->NewClient(), id, 0, kTotalSteps); });
  std::jthread second_thread(
      [&] { second = WatchRaw(*(*server)->NewClient(), id, 0, kTotalSteps); });

  // Killed once it has printed a whole losses line: a long line reaches the pipe in pieces,
  // so seeing "losses" is not enough.
  ASSERT_TRUE((*cli)->WaitForOutputWhere(
      [](const std::string& out) { return ReadPrintedWatch(out).last_step > 0; },
      absl::Seconds(60)))
      << (*cli)->Stderr();
  (*cli)->Signal(SIGKILL);
  absl::StatusOr<int> killed = (*cli)->Wait(absl::Seconds(10));
  ASSERT_OK(killed);
  EXPECT_EQ(*killed, 128 + SIGKILL);
  // Complete lines only: the last may have been cut by the kill.
  const PrintedWatch printed = ReadPrintedWatch((*cli)->Stdout());
  EXPECT_LE(printed.unparsed_lines, 1);
  EXPECT_TRUE(printed.in_order);
  const int64_t cli_last_step = printed.last_step;
  ASSERT_GT(cli_last_step, 0);
  EXPECT_FALSE(printed.saw_terminal) << "the job ended before the watcher was killed";

  // Resume where the killed watcher stopped.
  StepCounter resumed(cli_last_step);
  client::JobWatcherOptions options;
  options.after_step = cli_last_step;
  absl::StatusOr<v1::Job> final_job = client::WatchUntilDone(*client, id, options, resumed);
  ASSERT_OK(final_job);
  EXPECT_EQ(final_job->state(), v1::SUCCEEDED);
  EXPECT_EQ(final_job->progress().step(), kTotalSteps);
  EXPECT_EQ(resumed.out_of_order(), 0);
  EXPECT_EQ(cli_last_step + resumed.steps(), kTotalSteps);
  EXPECT_EQ(resumed.last_step(), kTotalSteps);

  first_thread.join();
  second_thread.join();
  for (const RawWatch* watch : {&first, &second}) {
    EXPECT_OK(watch->status);
    EXPECT_EQ(watch->final_state, v1::SUCCEEDED);
    int64_t missing = 0, repeated = 0;
    for (int64_t s = 1; s <= kTotalSteps; ++s) {
      missing += watch->counts[s] == 0;
      repeated += watch->counts[s] > 1;
    }
    EXPECT_EQ(missing, 0);
    EXPECT_EQ(repeated, 0);
  }

  // A CLI watcher attached after the end replays the whole history and exits 0.
  testing::ProcessOptions no_env;
  no_env.unset_env = {"DESCENT_SERVER"};
  absl::StatusOr<testing::ProcessResult> replay = testing::RunProcess(
      {DESCENT_CLI_PATH, "--server", (*server)->address(), "-o", "json", "watch", id},
      absl::Seconds(120), no_env);
  ASSERT_OK(replay);
  EXPECT_EQ(replay->exit_code, 0) << replay->err;
  const PrintedWatch replayed = ReadPrintedWatch(replay->out);
  EXPECT_EQ(replayed.unparsed_lines, 0);
  EXPECT_TRUE(replayed.in_order);
  EXPECT_EQ(replayed.last_step, kTotalSteps);
  EXPECT_TRUE(replayed.saw_terminal);
  EXPECT_THAT(replay->out, HasSubstr("\"SUCCEEDED\""));
}

}  // namespace
}  // namespace descent::integration
