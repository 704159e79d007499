#include "client/descent_client.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_training_server.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::client::testing::FakeTrainingServer;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class DescentClientTest : public ::testing::Test {
 protected:
  FakeTrainingServer server_;
  std::unique_ptr<DescentClient> client_ = DescentClient::Connect(server_.address());
};

TEST_F(DescentClientTest, SubmitSendsTheSpecAndRequestId) {
  v1::JobSpec spec;
  spec.set_name("house-prices");
  absl::StatusOr<v1::Job> job = client_->SubmitJob(spec, "retry-key");
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), v1::QUEUED);
  EXPECT_EQ(job->name(), "house-prices");
  ASSERT_EQ(server_.service().submits().size(), 1u);
  EXPECT_EQ(server_.service().submits()[0].request_id(), "retry-key");
}

TEST_F(DescentClientTest, ServerErrorsKeepTheirCodeAndMessage) {
  v1::JobSpec spec;
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(-0.1);
  EXPECT_THAT(client_->SubmitJob(spec, ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "optimizer.adam.learning_rate must be > 0 (got -0.1)"));
  EXPECT_THAT(client_->GetJob("nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("job nope not found")));
}

TEST_F(DescentClientTest, GetCancelExportPredict) {
  const std::string running = server_.service().AddJob({1, 2}, v1::SUCCEEDED);
  server_.service().SetVisibleState(running, v1::RUNNING);
  EXPECT_THAT(client_->ExportModel(running),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has not succeeded")));
  absl::StatusOr<v1::Job> cancelled = client_->CancelJob(running);
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  EXPECT_THAT(client_->CancelJob(running),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already finished")));

  const std::string done = server_.service().AddJob({1, 2}, v1::SUCCEEDED);
  absl::StatusOr<v1::ExportModelResponse> model = client_->ExportModel(done);
  ASSERT_OK(model);
  EXPECT_THAT(model->parameters().layers(0).weight().values(), ElementsAre(0.5f, -1.5f));
  v1::Matrix inputs;
  inputs.set_rows(1);
  inputs.set_cols(2);
  inputs.add_values(2.0f);
  inputs.add_values(1.0f);
  absl::StatusOr<v1::PredictResponse> prediction = client_->Predict(done, inputs);
  ASSERT_OK(prediction);
  EXPECT_THAT(prediction->outputs().values(), ElementsAre(-0.25f));
}

TEST_F(DescentClientTest, ListAllJobsFollowsEveryPage) {
  server_.service().set_page_size_cap(2);
  for (int i = 0; i < 5; ++i) server_.service().AddJob({1.0}, i % 2 ? v1::FAILED : v1::SUCCEEDED);
  absl::StatusOr<std::vector<v1::Job>> all = client_->ListAllJobs(v1::JOB_STATE_UNSPECIFIED);
  ASSERT_OK(all);
  std::vector<std::string> ids;
  for (const v1::Job& job : *all) ids.push_back(job.id());
  EXPECT_THAT(ids, ElementsAre("job-5", "job-4", "job-3", "job-2", "job-1"));
  absl::StatusOr<std::vector<v1::Job>> failed = client_->ListAllJobs(v1::FAILED);
  ASSERT_OK(failed);
  EXPECT_EQ(failed->size(), 2u);
}

TEST_F(DescentClientTest, HealthIsServing) {
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> status =
      client_->CheckHealth();
  ASSERT_OK(status);
  EXPECT_EQ(*status, grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(DescentClientTest, WatchDeliversEveryMessageThenTheServersStatus) {
  const std::string id = server_.service().AddJob({4, 3, 2, 1}, v1::SUCCEEDED);
  server_.service().set_points_per_message(3);
  std::vector<std::string> events;
  absl::Status status =
      client_->WatchJob(id, 0, absl::Seconds(10), [&](const v1::WatchJobResponse& event) {
        events.push_back(event.has_losses() ? absl::StrCat("losses@", event.losses().first_step(),
                                                           "x", event.losses().losses_size())
                                            : "state");
        return true;
      });
  EXPECT_OK(status);
  EXPECT_THAT(events, ElementsAre("losses@1x3", "losses@4x1", "state"));
}

TEST_F(DescentClientTest, WatchStopsWhenTheCallbackSaysSo) {
  const std::string id = server_.service().AddJob({4, 3, 2, 1}, v1::SUCCEEDED);
  server_.service().set_points_per_message(1);
  int seen = 0;
  absl::Status status =
      client_->WatchJob(id, 0, absl::Seconds(10), [&](const auto&) { return ++seen < 2; });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("stopped by the client")));
  EXPECT_EQ(seen, 2);
}

TEST_F(DescentClientTest, ASilentStreamEndsAfterTheIdleTimeout) {
  const std::string id = server_.service().AddJob({4, 3}, v1::SUCCEEDED);
  server_.service().ScriptWatch(id, {{.send_until_step = 1, .hang = true}});
  int seen = 0;
  absl::Status status = client_->WatchJob(id, 0, absl::Milliseconds(200), [&](const auto&) {
    ++seen;
    return true;
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("heartbeat")));
  EXPECT_EQ(seen, 1);
}

TEST(DescentClientUnreachableTest, NoServerIsUnavailable) {
  const int port = descent::testing::PickFreePort();
  ASSERT_GT(port, 0);
  auto client = DescentClient::Connect(absl::StrCat("127.0.0.1:", port));
  EXPECT_THAT(client->GetJob("x"), StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(client->CheckHealth(), StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

}  // namespace
}  // namespace descent::client
