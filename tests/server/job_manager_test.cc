// The job manager without gRPC: submission, the queue, states, cancellation, listing,
// models and shutdown, on tiny builtin datasets. Watch streams: job_manager_watch_test.cc.
#include "server/jobs/job_manager.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "engine/blas.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/job_ids.h"
#include "tests/server/job_test_helpers.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::IsOk;
using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::EndlessJob;
using ::testing::HasSubstr;
using testing::RecordingListener;
using testing::TinyJob;
using testing::WaitForStep;
using testing::WaitUntilDone;

JobManagerOptions Options(int workers) {
  JobManagerOptions options;
  options.workers = workers;
  return options;
}

std::vector<std::string> Ids(const JobPage& page) {
  std::vector<std::string> ids;
  for (const v1::Job& job : page.jobs) ids.push_back(job.id());
  return ids;
}

TEST(JobManagerTest, SubmitAnswersQueuedAndTheJobIsVisibleAtOnce) {
  JobManager manager(Options(/*workers=*/0), nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(2, 64, "house"));
  ASSERT_OK(job);
  EXPECT_TRUE(IsWellFormedJobId(job->id())) << job->id();
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_EQ(job->name(), "house");
  EXPECT_EQ(job->spec().training().epochs(), 2);
  EXPECT_TRUE(job->has_create_time());
  EXPECT_FALSE(job->has_start_time());
  EXPECT_FALSE(job->has_end_time());
  EXPECT_EQ(job->progress().total_epochs(), 2);
  EXPECT_EQ(job->progress().total_steps(), 8);  // 2 epochs of 64 rows in batches of 16

  absl::StatusOr<v1::Job> got = manager.Get(job->id());
  ASSERT_OK(got);
  EXPECT_EQ(got->state(), v1::QUEUED);
  EXPECT_EQ(got->create_time().seconds(), job->create_time().seconds());
  absl::StatusOr<JobPage> page = manager.List(v1::JOB_STATE_UNSPECIFIED, 0, "");
  ASSERT_OK(page);
  EXPECT_THAT(Ids(*page), ElementsAre(job->id()));
}

TEST(JobManagerTest, JobTrainsToSucceededWithProgressResultsAndModel) {
  RecordingListener listener;
  JobManager manager(Options(1), &listener);
  absl::StatusOr<v1::Job> submitted = manager.Submit(TinyJob(/*epochs=*/3));
  ASSERT_OK(submitted);
  const v1::Job done = WaitUntilDone(manager, submitted->id());
  EXPECT_EQ(done.state(), v1::SUCCEEDED);
  EXPECT_EQ(done.error(), "");
  EXPECT_EQ(done.progress().step(), 12);  // 3 epochs of 64 / 16 batches
  EXPECT_EQ(done.progress().total_steps(), 12);
  EXPECT_EQ(done.progress().epoch(), 3);
  EXPECT_EQ(done.progress().total_epochs(), 3);
  EXPECT_GT(done.progress().steps_per_second(), 0.0);
  EXPECT_TRUE(done.has_train_loss());
  EXPECT_FALSE(done.has_validation_loss());  // no validation split
  EXPECT_TRUE(done.train_metrics().has_mae());
  EXPECT_FALSE(done.has_validation_metrics());
  EXPECT_TRUE(done.has_diagnosis());
  ASSERT_TRUE(done.has_start_time() && done.has_end_time());
  EXPECT_LE(done.create_time().seconds(), done.start_time().seconds());
  EXPECT_LE(done.start_time().seconds(), done.end_time().seconds());

  absl::StatusOr<v1::Job> got = manager.Get(submitted->id());
  ASSERT_OK(got);
  EXPECT_EQ(got->state(), v1::SUCCEEDED);
  EXPECT_EQ(got->train_loss(), done.train_loss());
  EXPECT_EQ(got->spec().name(), "tiny");

  absl::StatusOr<TrainedModel> model = manager.Model(submitted->id());
  ASSERT_OK(model);
  EXPECT_EQ(model->job_id, submitted->id());
  EXPECT_EQ(model->inputs, 13);
  ASSERT_EQ(model->parameters.size(), 2u);
  EXPECT_EQ(model->parameters[0].weight.rows(), 8);
  EXPECT_EQ(model->parameters[0].weight.cols(), 13);
  EXPECT_EQ(model->parameters[1].weight.rows(), 1);
  EXPECT_EQ(model->parameters[1].bias.size(), 1u);
  EXPECT_THAT(model->activations, ElementsAre(Activation::kRelu, Activation::kIdentity));
  EXPECT_EQ(model->loss.kind, LossKind::kMeanSquaredError);
  EXPECT_EQ(model->feature_names.size(), 13u);
  EXPECT_EQ(model->spec.name(), "tiny");

  EXPECT_THAT(listener.submitted(), ElementsAre(submitted->id()));
  std::vector<RecordingListener::StateChange> changes = listener.changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].from, v1::QUEUED);
  EXPECT_EQ(changes[0].to, v1::RUNNING);
  EXPECT_EQ(changes[1].from, v1::RUNNING);
  EXPECT_EQ(changes[1].to, v1::SUCCEEDED);
  EXPECT_EQ(listener.steps(), 12);
  EXPECT_EQ(listener.examples(), 3 * 64);
}

TEST(JobManagerTest, LastBatchOfAnEpochCountsOnlyItsExamples) {
  RecordingListener listener;
  JobManager manager(Options(1), &listener);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(/*epochs=*/2, /*samples=*/40));
  ASSERT_OK(job);
  EXPECT_EQ(WaitUntilDone(manager, job->id()).progress().step(), 6);  // 16 + 16 + 8, twice
  EXPECT_EQ(listener.examples(), 80);
}

TEST(JobManagerTest, UnknownJobIsNotFoundEverywhere) {
  JobManager manager(Options(0), nullptr);
  const std::string id = "job-000000000000";
  EXPECT_THAT(manager.Get(id), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
  EXPECT_THAT(manager.Cancel(id), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
  EXPECT_THAT(manager.Model(id), StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
  EXPECT_THAT(manager.Watch(id, 0, [](const v1::WatchJobResponse&) { return true; }),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
}

TEST(JobManagerTest, ListsNewestFirstInStablePages) {
  JobManager manager(Options(0), nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
    ASSERT_OK(job);
    ids.push_back(job->id());
  }
  absl::StatusOr<JobPage> first = manager.List(v1::JOB_STATE_UNSPECIFIED, 2, "");
  ASSERT_OK(first);
  EXPECT_THAT(Ids(*first), ElementsAre(ids[4], ids[3]));
  ASSERT_FALSE(first->next_page_token.empty());

  // A job submitted between pages does not shift them.
  ASSERT_OK(manager.Submit(TinyJob(1)));
  absl::StatusOr<JobPage> second =
      manager.List(v1::JOB_STATE_UNSPECIFIED, 2, first->next_page_token);
  ASSERT_OK(second);
  EXPECT_THAT(Ids(*second), ElementsAre(ids[2], ids[1]));
  absl::StatusOr<JobPage> third =
      manager.List(v1::JOB_STATE_UNSPECIFIED, 2, second->next_page_token);
  ASSERT_OK(third);
  EXPECT_THAT(Ids(*third), ElementsAre(ids[0]));
  EXPECT_EQ(third->next_page_token, "");

  absl::StatusOr<JobPage> all = manager.List(v1::JOB_STATE_UNSPECIFIED, 0, "");
  ASSERT_OK(all);
  EXPECT_EQ(all->jobs.size(), 6u);  // page_size 0 = 50
  EXPECT_EQ(all->next_page_token, "");
  absl::StatusOr<JobPage> exact = manager.List(v1::JOB_STATE_UNSPECIFIED, 6, "");
  ASSERT_OK(exact);
  EXPECT_EQ(exact->next_page_token, "");  // nothing after the last job
}

TEST(JobManagerTest, ListFiltersByState) {
  JobManager manager(Options(0), nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
    ASSERT_OK(job);
    ids.push_back(job->id());
  }
  ASSERT_OK(manager.Cancel(ids[0]));
  ASSERT_OK(manager.Cancel(ids[2]));
  absl::StatusOr<JobPage> cancelled = manager.List(v1::CANCELLED, 0, "");
  ASSERT_OK(cancelled);
  EXPECT_THAT(Ids(*cancelled), ElementsAre(ids[2], ids[0]));
  absl::StatusOr<JobPage> queued = manager.List(v1::QUEUED, 1, "");
  ASSERT_OK(queued);
  EXPECT_THAT(Ids(*queued), ElementsAre(ids[3]));
  absl::StatusOr<JobPage> next = manager.List(v1::QUEUED, 1, queued->next_page_token);
  ASSERT_OK(next);
  EXPECT_THAT(Ids(*next), ElementsAre(ids[1]));
  EXPECT_EQ(next->next_page_token, "");  // no QUEUED job is older
  absl::StatusOr<JobPage> running = manager.List(v1::RUNNING, 0, "");
  ASSERT_OK(running);
  EXPECT_TRUE(running->jobs.empty());
}

TEST(JobManagerTest, ListRejectsBadArguments) {
  JobManager manager(Options(0), nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_OK(manager.Submit(TinyJob(1)));
  EXPECT_THAT(manager.List(v1::JOB_STATE_UNSPECIFIED, -1, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size must be >= 0")));
  EXPECT_THAT(manager.List(v1::JOB_STATE_UNSPECIFIED, 1, "not a token"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(manager.List(v1::JOB_STATE_UNSPECIFIED, 1, "djE6MDo5OTk"),  // "v1:0:999"
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  absl::StatusOr<JobPage> page = manager.List(v1::JOB_STATE_UNSPECIFIED, 1, "");
  ASSERT_OK(page);
  EXPECT_THAT(manager.List(v1::QUEUED, 1, page->next_page_token),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("same state filter")));
}

TEST(JobManagerTest, CancelQueuedJobEndsItAtOnce) {
  RecordingListener listener;
  JobManager manager(Options(0), &listener);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
  ASSERT_OK(job);
  absl::StatusOr<v1::Job> cancelled = manager.Cancel(job->id());
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  EXPECT_TRUE(cancelled->has_end_time());
  EXPECT_FALSE(cancelled->has_start_time());
  EXPECT_EQ(cancelled->progress().step(), 0);
  ASSERT_EQ(listener.changes().size(), 1u);
  EXPECT_EQ(listener.changes()[0].from, v1::QUEUED);
  EXPECT_EQ(listener.changes()[0].to, v1::CANCELLED);
  EXPECT_THAT(manager.Cancel(job->id()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("CANCELLED"), HasSubstr("only QUEUED or RUNNING"))));
}

TEST(JobManagerTest, CancelRunningJobStopsIt) {
  JobManager manager(Options(1), nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(EndlessJob());
  ASSERT_OK(job);
  WaitForStep(manager, job->id(), 5);
  const absl::Time seen_running = absl::Now();
  absl::StatusOr<v1::Job> answer = manager.Cancel(job->id());
  ASSERT_OK(answer);
  EXPECT_THAT(answer->state(), ::testing::AnyOf(v1::RUNNING, v1::CANCELLED));
  const v1::Job done = WaitUntilDone(manager, job->id());
  EXPECT_EQ(done.state(), v1::CANCELLED);
  EXPECT_GE(done.progress().step(), 5);
  EXPECT_LT(done.progress().step(), done.progress().total_steps());
  EXPECT_EQ(done.error(), "");
  // Causal order, not timing: it was seen running before it ended.
  EXPECT_LT(FromTimestamp(done.start_time()), seen_running);
  EXPECT_GE(FromTimestamp(done.end_time()), seen_running);
  EXPECT_THAT(manager.Model(job->id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CANCELLED")));
}

TEST(JobManagerTest, CancelFinishedJobIsFailedPrecondition) {
  JobManager manager(Options(1), nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
  ASSERT_OK(job);
  ASSERT_EQ(WaitUntilDone(manager, job->id()).state(), v1::SUCCEEDED);
  EXPECT_THAT(manager.Cancel(job->id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("SUCCEEDED")));
  EXPECT_EQ(manager.Get(job->id())->state(), v1::SUCCEEDED);
}

TEST(JobManagerTest, FullQueueIsResourceExhaustedNamingTheFlag) {
  JobManagerOptions options = Options(0);
  options.max_queued_jobs = 2;
  JobManager manager(options, nullptr);
  absl::StatusOr<v1::Job> first = manager.Submit(TinyJob(1));
  ASSERT_OK(first);
  ASSERT_OK(manager.Submit(TinyJob(1)));
  EXPECT_THAT(manager.Submit(TinyJob(1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("2 jobs queued"), HasSubstr("--max-queued-jobs"))));
  // Cancelling frees a place.
  ASSERT_OK(manager.Cancel(first->id()));
  EXPECT_OK(manager.Submit(TinyJob(1)));
}

TEST(JobManagerTest, RunningJobsDoNotCountAgainstTheQueue) {
  JobManagerOptions options = Options(1);
  options.max_queued_jobs = 1;
  JobManager manager(options, nullptr);
  absl::StatusOr<v1::Job> running = manager.Submit(EndlessJob());
  ASSERT_OK(running);
  WaitForStep(manager, running->id(), 1);
  ASSERT_OK(manager.Submit(TinyJob(1)));
  EXPECT_THAT(manager.Submit(TinyJob(1)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max-queued-jobs")));
}

TEST(JobManagerTest, RequestIdMakesSubmitIdempotent) {
  JobManagerOptions options = Options(0);
  options.max_queued_jobs = 1;
  RecordingListener listener;
  JobManager manager(options, &listener);
  PreparedJob job = TinyJob(1);
  job.request_id = "retry-me";
  absl::StatusOr<v1::Job> first = manager.Submit(job);
  ASSERT_OK(first);
  EXPECT_EQ(first->request_id(), "retry-me");
  // The retry gets the same job, even though the queue is full now.
  absl::StatusOr<v1::Job> retry = manager.Submit(job);
  ASSERT_OK(retry);
  EXPECT_EQ(retry->id(), first->id());
  EXPECT_EQ(manager.List(v1::JOB_STATE_UNSPECIFIED, 0, "")->jobs.size(), 1u);
  EXPECT_EQ(listener.submitted().size(), 1u);

  // The same key for another spec is a client bug, not a retry.
  PreparedJob other = TinyJob(2);
  other.request_id = "retry-me";
  EXPECT_THAT(manager.Submit(other),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("retry-me"), HasSubstr(first->id()))));

  // The retry of a cancelled job still answers with that job.
  ASSERT_OK(manager.Cancel(first->id()));
  retry = manager.Submit(job);
  ASSERT_OK(retry);
  EXPECT_EQ(retry->id(), first->id());
  EXPECT_EQ(retry->state(), v1::CANCELLED);
}

TEST(JobManagerTest, ModelNeedsASucceededJob) {
  JobManager manager(Options(0), nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
  ASSERT_OK(job);
  EXPECT_THAT(manager.Model(job->id()), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 AllOf(HasSubstr(job->id()), HasSubstr("QUEUED"))));
}

TEST(JobManagerTest, DivergedRunFailsWithTheDiagnosis) {
  RecordingListener listener;
  JobManager manager(Options(1), &listener);
  PreparedJob job = TinyJob(50);
  job.train_spec.optimizer.kind = OptimizerKind::kSgd;
  job.train_spec.optimizer.learning_rate = 10.0;  // far too high for unscaled prices
  absl::StatusOr<v1::Job> submitted = manager.Submit(std::move(job));
  ASSERT_OK(submitted);
  const v1::Job done = WaitUntilDone(manager, submitted->id());
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_EQ(done.diagnosis().verdict(), v1::DIVERGED);
  EXPECT_FALSE(done.error().empty());
  EXPECT_EQ(done.error(), done.diagnosis().message());
  EXPECT_LT(done.progress().step(), done.progress().total_steps());
  // Every step trained is in the history, up to the one that diverged within its epoch.
  EXPECT_EQ(done.progress().step(), listener.steps());
  const testing::StreamSummary stream =
      testing::CheckStream(testing::WatchAll(manager, submitted->id()), 0, 4096);
  EXPECT_EQ(static_cast<int64_t>(stream.losses.size()), listener.steps());
  EXPECT_THAT(manager.Model(submitted->id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("FAILED")));
}

TEST(JobManagerTest, EarlyStoppingSucceeds) {
  JobManager manager(Options(1), nullptr);
  PreparedJob job = TinyJob(50);
  job.train_spec.training.early_stopping.patience = 1;
  job.train_spec.training.early_stopping.min_delta = 1e12;  // no improvement counts
  absl::StatusOr<v1::Job> submitted = manager.Submit(std::move(job));
  ASSERT_OK(submitted);
  const v1::Job done = WaitUntilDone(manager, submitted->id());
  EXPECT_EQ(done.state(), v1::SUCCEEDED);
  EXPECT_LT(done.progress().step(), done.progress().total_steps());
  EXPECT_OK(manager.Model(submitted->id()));
}

TEST(JobManagerTest, TrainerRejectingTheJobFailsIt) {
  JobManager manager(Options(1), nullptr);
  PreparedJob job = TinyJob(1);
  // Conversion would have caught this; the manager must still fail cleanly.
  job.train_spec.optimizer.kind = OptimizerKind::kSgd;
  job.train_spec.optimizer.learning_rate.reset();
  absl::StatusOr<v1::Job> submitted = manager.Submit(std::move(job));
  ASSERT_OK(submitted);
  const v1::Job done = WaitUntilDone(manager, submitted->id());
  EXPECT_EQ(done.state(), v1::FAILED);
  EXPECT_THAT(done.error(), HasSubstr("learning_rate"));
  EXPECT_EQ(done.progress().step(), 0);
}

TEST(JobManagerTest, WorkersTrainJobsConcurrently) {
  JobManager manager(Options(2), nullptr);
  absl::StatusOr<v1::Job> first = manager.Submit(EndlessJob("first"));
  absl::StatusOr<v1::Job> second = manager.Submit(EndlessJob("second"));
  ASSERT_OK(first);
  ASSERT_OK(second);
  // Both make progress while neither has ended: two workers.
  WaitForStep(manager, first->id(), 10);
  WaitForStep(manager, second->id(), 10);
  EXPECT_EQ(manager.Get(first->id())->state(), v1::RUNNING);
  EXPECT_EQ(manager.Get(second->id())->state(), v1::RUNNING);
  absl::StatusOr<JobPage> running = manager.List(v1::RUNNING, 0, "");
  ASSERT_OK(running);
  EXPECT_EQ(running->jobs.size(), 2u);
}

TEST(JobManagerTest, BlasThreadsDivideTheCoresAmongRunningJobs) {
  EXPECT_EQ(BlasThreadsForRunningJobs(2, 0, 0), 2);
  EXPECT_EQ(BlasThreadsForRunningJobs(2, 1, 0), 2);
  EXPECT_EQ(BlasThreadsForRunningJobs(2, 2, 0), 1);
  EXPECT_EQ(BlasThreadsForRunningJobs(8, 3, 0), 2);
  EXPECT_EQ(BlasThreadsForRunningJobs(2, 5, 0), 1);
  EXPECT_EQ(BlasThreadsForRunningJobs(2, 1, 3), 3);
}

// What a manager sets while jobs run: a job alone gets every core, two jobs share them.
TEST(JobManagerTest, OneJobAloneUsesEveryCoreAndTwoShareThem) {
  JobManager manager(Options(2), nullptr);
  const int cores = BlasThreads();  // set for no running job: every available core
  ASSERT_GE(cores, 1);
  absl::StatusOr<v1::Job> first = manager.Submit(EndlessJob("first"));
  ASSERT_OK(first);
  WaitForStep(manager, first->id(), 1);
  EXPECT_EQ(BlasThreads(), cores);
  absl::StatusOr<v1::Job> second = manager.Submit(EndlessJob("second"));
  ASSERT_OK(second);
  WaitForStep(manager, second->id(), 1);
  EXPECT_EQ(BlasThreads(), std::max(1, cores / 2));
  ASSERT_OK(manager.Cancel(second->id()));
  EXPECT_EQ(WaitUntilDone(manager, second->id()).state(), v1::CANCELLED);
  // The second job's worker settles after the job reads CANCELLED; then the first job has
  // every core again.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (BlasThreads() != cores && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(BlasThreads(), cores);
  manager.Shutdown();
}

TEST(JobManagerTest, ShutdownCancelsEverythingAndRefusesNewJobs) {
  RecordingListener listener;
  JobManager manager(Options(1), &listener);
  absl::StatusOr<v1::Job> running = manager.Submit(EndlessJob());
  ASSERT_OK(running);
  WaitForStep(manager, running->id(), 1);
  absl::StatusOr<v1::Job> queued = manager.Submit(TinyJob(1));
  ASSERT_OK(queued);

  manager.Shutdown();
  // Shutdown returns once every job has ended.
  EXPECT_EQ(manager.Get(running->id())->state(), v1::CANCELLED);
  EXPECT_EQ(manager.Get(queued->id())->state(), v1::CANCELLED);
  EXPECT_THAT(manager.Submit(TinyJob(1)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  // Reads keep working; a second Shutdown is a no-op.
  EXPECT_OK(manager.List(v1::JOB_STATE_UNSPECIFIED, 0, ""));
  EXPECT_EQ(WaitUntilDone(manager, running->id()).state(), v1::CANCELLED);
  manager.Shutdown();

  int terminal = 0;
  for (const RecordingListener::StateChange& change : listener.changes()) {
    if (change.to == v1::CANCELLED) ++terminal;
  }
  EXPECT_EQ(terminal, 2);
}

TEST(JobManagerTest, DestructorStopsRunningAndQueuedJobs) {
  RecordingListener listener;
  {
    JobManager manager(Options(2), &listener);
    for (int i = 0; i < 4; ++i) ASSERT_OK(manager.Submit(EndlessJob()));
  }
  int cancelled = 0;
  for (const RecordingListener::StateChange& change : listener.changes()) {
    if (change.to == v1::CANCELLED) ++cancelled;
  }
  EXPECT_EQ(cancelled, 4);
}

}  // namespace
}  // namespace descent::server
