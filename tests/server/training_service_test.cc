// descentd in-process: a real Server on 127.0.0.1:0 with a real JobManager, called through a
// real channel. Every RPC, every status code it can return, health, reflection, metrics and
// shutdown. Jobs are tiny; waits end on stream events, never on elapsed time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "descent/v1/training.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "server/conversion/spec_conversion.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"

namespace descent::server {
namespace {

using ::descent::testing::ParseTextProto;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every call is bounded, so a broken server fails the test instead of hanging it.
constexpr absl::Duration kCallTimeout = absl::Seconds(60);

void Bound(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
}

MATCHER_P2(GrpcIs, code, message_matcher, "") {
  *result_listener << "status is " << arg.error_code() << ": " << arg.error_message();
  return arg.error_code() == code && ::testing::Matches(message_matcher)(arg.error_message());
}

// For codes whose message the job manager words.
MATCHER_P(HasCode, code, "") {
  *result_listener << "status is " << arg.error_code() << ": " << arg.error_message();
  return arg.error_code() == code && !arg.error_message().empty();
}

// 8 samples of y = 2x + 1, one hidden layer of 4, MSE/Adam, batch 4: 2 steps per epoch.
v1::JobSpec LineSpec(int epochs) {
  v1::JobSpec spec = ParseTextProto<v1::JobSpec>(R"pb(
    name: "line"
    dataset {
      inline {
        features { rows: 8 cols: 1 values: [ -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5 ] }
        targets { rows: 8 cols: 1 values: [ -3, -2, -1, 0, 1, 2, 3, 4 ] }
      }
    }
    model { hidden_layers { units: 4 activation: TANH } }
    loss: MEAN_SQUARED_ERROR
    optimizer { adam { learning_rate: 0.01 } }
    training { batch_size: 4 seed: 5 }
  )pb");
  spec.mutable_training()->set_epochs(epochs);
  return spec;
}

// A job that runs until cancelled: 10M steps of a 13-256-256-1 network.
v1::JobSpec EndlessSpec() {
  return ParseTextProto<v1::JobSpec>(R"pb(
    name: "endless"
    dataset { builtin { name: "house_prices" samples: 64 seed: 1 } }
    model { hidden_layers { units: 256 } hidden_layers { units: 256 } }
    loss: MEAN_SQUARED_ERROR
    optimizer { sgd { learning_rate: 0.0001 } }
    training { epochs: 2500000 batch_size: 16 stop_on_divergence: false }
  )pb");
}

v1::JobSpec BuiltinClassifierSpec(const std::string& dataset, v1::Loss loss) {
  v1::JobSpec spec;
  spec.set_name(dataset);
  spec.mutable_dataset()->mutable_builtin()->set_name(dataset);
  spec.mutable_dataset()->mutable_builtin()->set_samples(60);
  spec.mutable_model()->add_hidden_layers()->set_units(6);
  spec.set_loss(loss);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.01);
  spec.mutable_training()->set_epochs(2);
  spec.mutable_training()->set_batch_size(30);
  return spec;
}

// What one WatchJob call saw.
struct Watched {
  grpc::Status status;
  std::vector<v1::WatchJobResponse> events;
  std::vector<std::pair<int64_t, double>> losses;  // (step, loss) in arrival order

  const v1::WatchJobResponse* last() const { return events.empty() ? nullptr : &events.back(); }
};

class ServiceTest : public ::testing::Test {
 protected:
  // Starts a server on 127.0.0.1:0 with `options` (metrics endpoint off unless given).
  void StartServer(ServerOptions options) {
    options.listen_address = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_OK(server);
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::TrainingService::NewStub(channel_);
  }

  void SetUp() override {
    ServerOptions options;
    options.metrics_listen_address = "";
    options.jobs.workers = 1;
    StartServer(options);
  }

  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job, const std::string& request_id = "") {
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    request.set_request_id(request_id);
    grpc::ClientContext context;
    Bound(&context);
    return stub_->SubmitJob(&context, request, job);
  }

  grpc::Status Get(const std::string& id, v1::Job* job) {
    v1::GetJobRequest request;
    request.set_job_id(id);
    grpc::ClientContext context;
    Bound(&context);
    return stub_->GetJob(&context, request, job);
  }

  grpc::Status Cancel(const std::string& id, v1::Job* job) {
    v1::CancelJobRequest request;
    request.set_job_id(id);
    grpc::ClientContext context;
    Bound(&context);
    return stub_->CancelJob(&context, request, job);
  }

  grpc::Status List(v1::JobState state, int page_size, const std::string& token,
                    v1::ListJobsResponse* response) {
    v1::ListJobsRequest request;
    request.set_state(state);
    request.set_page_size(page_size);
    request.set_page_token(token);
    grpc::ClientContext context;
    Bound(&context);
    return stub_->ListJobs(&context, request, response);
  }

  grpc::Status Export(const std::string& id, v1::ExportModelResponse* response) {
    v1::ExportModelRequest request;
    request.set_job_id(id);
    grpc::ClientContext context;
    Bound(&context);
    return stub_->ExportModel(&context, request, response);
  }

  grpc::Status Predict(const std::string& id, int rows, int cols, std::vector<float> values,
                       v1::PredictResponse* response) {
    v1::PredictRequest request;
    request.set_job_id(id);
    request.mutable_inputs()->set_rows(rows);
    request.mutable_inputs()->set_cols(cols);
    for (float v : values) request.mutable_inputs()->add_values(v);
    grpc::ClientContext context;
    Bound(&context);
    return stub_->Predict(&context, request, response);
  }

  // Reads the whole stream. `on_first_losses` (may be null) is notified at the first losses.
  Watched Watch(const std::string& id, int64_t after_step,
                absl::Notification* on_first_losses = nullptr) {
    v1::WatchJobRequest request;
    request.set_job_id(id);
    request.set_after_step(after_step);
    grpc::ClientContext context;
    Bound(&context);
    Watched watched;
    std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader =
        stub_->WatchJob(&context, request);
    v1::WatchJobResponse event;
    while (reader->Read(&event)) {
      if (event.has_losses()) {
        for (int i = 0; i < event.losses().losses_size(); ++i) {
          watched.losses.emplace_back(event.losses().first_step() + i, event.losses().losses(i));
        }
        if (on_first_losses != nullptr && !on_first_losses->HasBeenNotified()) {
          on_first_losses->Notify();
        }
      }
      watched.events.push_back(event);
    }
    watched.status = reader->Finish();
    return watched;
  }

  // Submits and watches to the end; the terminal Job.
  v1::Job RunToEnd(const v1::JobSpec& spec) {
    v1::Job job;
    const grpc::Status submitted = Submit(spec, &job);
    EXPECT_TRUE(submitted.ok()) << submitted.error_message();
    const Watched watched = Watch(job.id(), 0);
    EXPECT_TRUE(watched.status.ok()) << watched.status.error_message();
    EXPECT_NE(watched.last(), nullptr);
    if (watched.last() == nullptr) return job;
    return watched.last()->state().job();
  }

  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

TEST_F(ServiceTest, FullJobFromSubmitToSucceededWithEveryStepWatchedOnce) {
  v1::Job submitted;
  ASSERT_TRUE(Submit(LineSpec(5), &submitted).ok());
  EXPECT_FALSE(submitted.id().empty());
  EXPECT_EQ(submitted.name(), "line");
  EXPECT_EQ(submitted.state(), v1::QUEUED);
  EXPECT_EQ(submitted.spec().training().epochs(), 5);

  // Visible at once.
  v1::Job got;
  ASSERT_TRUE(Get(submitted.id(), &got).ok());
  EXPECT_EQ(got.id(), submitted.id());

  const Watched watched = Watch(submitted.id(), 0);
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  // 5 epochs of 2 steps: steps 1..10, each once, in order.
  ASSERT_EQ(watched.losses.size(), 10u);
  for (size_t i = 0; i < watched.losses.size(); ++i) {
    EXPECT_EQ(watched.losses[i].first, static_cast<int64_t>(i + 1));
    EXPECT_TRUE(std::isfinite(watched.losses[i].second));
  }
  int epochs = 0;
  for (const v1::WatchJobResponse& event : watched.events) epochs += event.has_epoch();
  EXPECT_EQ(epochs, 5);
  ASSERT_TRUE(watched.last()->has_state());
  const v1::Job& final_job = watched.last()->state().job();
  EXPECT_EQ(watched.last()->state().state(), v1::SUCCEEDED);
  EXPECT_EQ(final_job.state(), v1::SUCCEEDED);
  EXPECT_EQ(final_job.progress().step(), 10);
  EXPECT_EQ(final_job.train_loss(), watched.losses.back().second);

  ASSERT_TRUE(Get(submitted.id(), &got).ok());
  EXPECT_EQ(got.state(), v1::SUCCEEDED);
  EXPECT_TRUE(got.has_end_time());

  // A resumed watch gets the history after the given step, the same values.
  const Watched resumed = Watch(submitted.id(), 6);
  ASSERT_TRUE(resumed.status.ok());
  ASSERT_EQ(resumed.losses.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(resumed.losses[i], watched.losses[6 + i]);
  EXPECT_EQ(resumed.last()->state().state(), v1::SUCCEEDED);

  v1::ListJobsResponse list;
  ASSERT_TRUE(List(v1::SUCCEEDED, 0, "", &list).ok());
  ASSERT_EQ(list.jobs_size(), 1);
  EXPECT_EQ(list.jobs(0).id(), submitted.id());
  ASSERT_TRUE(List(v1::RUNNING, 0, "", &list).ok());
  EXPECT_EQ(list.jobs_size(), 0);
}

TEST_F(ServiceTest, ExportGivesShapesAndPredictMatchesTheExportedNetwork) {
  const v1::Job job = RunToEnd(LineSpec(3));
  ASSERT_EQ(job.state(), v1::SUCCEEDED);

  v1::ExportModelResponse model;
  ASSERT_TRUE(Export(job.id(), &model).ok());
  EXPECT_EQ(model.job_id(), job.id());
  EXPECT_EQ(model.inputs(), 1);
  ASSERT_EQ(model.layers_size(), 2);
  EXPECT_EQ(model.layers(0).units(), 4);
  EXPECT_EQ(model.layers(0).activation(), v1::TANH);
  EXPECT_EQ(model.layers(1).units(), 1);
  EXPECT_EQ(model.output_activation(), v1::IDENTITY);
  EXPECT_EQ(model.loss(), v1::MEAN_SQUARED_ERROR);
  ASSERT_EQ(model.parameters().layers_size(), 2);
  const v1::LayerParameters& hidden = model.parameters().layers(0);
  const v1::LayerParameters& output = model.parameters().layers(1);
  EXPECT_EQ(hidden.weight().rows(), 4);  // [out, in]
  EXPECT_EQ(hidden.weight().cols(), 1);
  EXPECT_EQ(hidden.weight().values_size(), 4);
  EXPECT_EQ(hidden.bias_size(), 4);
  EXPECT_EQ(output.weight().rows(), 1);
  EXPECT_EQ(output.weight().cols(), 4);
  EXPECT_EQ(output.bias_size(), 1);

  const std::vector<float> xs = {-1.25f, 0.0f, 2.0f};
  v1::PredictResponse predicted;
  ASSERT_TRUE(Predict(job.id(), 3, 1, xs, &predicted).ok());
  ASSERT_EQ(predicted.outputs().rows(), 3);
  ASSERT_EQ(predicted.outputs().cols(), 1);
  EXPECT_EQ(predicted.classes_size(), 0);
  for (int r = 0; r < 3; ++r) {
    double y = output.bias(0);
    for (int h = 0; h < 4; ++h) {
      y +=
          output.weight().values(h) * std::tanh(hidden.weight().values(h) * xs[r] + hidden.bias(h));
    }
    EXPECT_NEAR(predicted.outputs().values(r), y, 1e-4) << r;
  }

  EXPECT_THAT(Predict(job.id(), 1, 2, {1, 2}, &predicted),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("inputs.cols must be 1, the model's feature count (got 2)")));
}

TEST_F(ServiceTest, CrossEntropyExportAndPredictNameTheClasses) {
  const v1::Job job =
      RunToEnd(BuiltinClassifierSpec("cat_dog_bird", v1::CATEGORICAL_CROSS_ENTROPY));
  ASSERT_EQ(job.state(), v1::SUCCEEDED);
  v1::ExportModelResponse model;
  ASSERT_TRUE(Export(job.id(), &model).ok());
  EXPECT_EQ(model.output_activation(), v1::SOFTMAX);
  EXPECT_EQ(model.layers(1).units(), 3);
  EXPECT_THAT(model.class_names(), ElementsAre("cat", "dog", "bird"));
  EXPECT_EQ(model.feature_names_size(), model.inputs());

  const int cols = model.inputs();
  std::vector<float> rows;
  for (int i = 0; i < 2 * cols; ++i) rows.push_back(0.5f * (i % 5) - 0.75f);
  v1::PredictResponse predicted;
  ASSERT_TRUE(Predict(job.id(), 2, cols, rows, &predicted).ok());
  ASSERT_EQ(predicted.outputs().cols(), 3);
  ASSERT_EQ(predicted.classes_size(), 2);
  ASSERT_EQ(predicted.class_names_size(), 2);
  for (int r = 0; r < 2; ++r) {
    double total = 0;
    int best = 0;
    for (int c = 0; c < 3; ++c) {
      const float p = predicted.outputs().values(r * 3 + c);
      total += p;
      if (p > predicted.outputs().values(r * 3 + best)) best = c;
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
    EXPECT_EQ(predicted.classes(r), best);
    EXPECT_EQ(predicted.class_names(r), model.class_names(best));
  }
}

TEST_F(ServiceTest, BinaryCrossEntropyPredictsWithSigmoidAndThreshold) {
  const v1::Job job = RunToEnd(BuiltinClassifierSpec("spam", v1::BINARY_CROSS_ENTROPY));
  ASSERT_EQ(job.state(), v1::SUCCEEDED);
  v1::ExportModelResponse model;
  ASSERT_TRUE(Export(job.id(), &model).ok());
  EXPECT_EQ(model.output_activation(), v1::SIGMOID);
  EXPECT_EQ(model.layers(1).units(), 1);
  std::vector<float> rows(3 * model.inputs(), 0.0f);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>(i % 4) - 1.5f;
  v1::PredictResponse predicted;
  ASSERT_TRUE(Predict(job.id(), 3, model.inputs(), rows, &predicted).ok());
  ASSERT_EQ(predicted.classes_size(), 3);
  for (int r = 0; r < 3; ++r) {
    const float p = predicted.outputs().values(r);
    EXPECT_GE(p, 0.0f);
    EXPECT_LE(p, 1.0f);
    EXPECT_EQ(predicted.classes(r), p >= 0.5f ? 1 : 0);
    EXPECT_EQ(predicted.class_names(r), model.class_names(predicted.classes(r)));
  }
}

TEST_F(ServiceTest, InvalidArgumentForBadRequestsWhateverTheState) {
  v1::Job job;
  v1::JobSpec spec = LineSpec(1);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(-0.1);
  EXPECT_THAT(Submit(spec, &job),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("spec.optimizer.adam.learning_rate must be > 0 (got -0.1)")));
  spec = LineSpec(1);
  spec.mutable_dataset()->mutable_builtin()->set_name("mnist");
  EXPECT_THAT(Submit(spec, &job), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                         HasSubstr("spec.dataset.builtin.name \"mnist\"")));
  spec = LineSpec(1);
  spec.clear_optimizer();
  EXPECT_THAT(Submit(spec, &job),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("spec.optimizer: set one of sgd, adam, rmsprop, adagrad")));

  EXPECT_THAT(Get("", &job), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("job_id")));
  EXPECT_THAT(Cancel("", &job), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("job_id")));
  v1::ListJobsResponse list;
  EXPECT_THAT(List(v1::JOB_STATE_UNSPECIFIED, -1, "", &list),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("page_size")));
  EXPECT_THAT(List(v1::JOB_STATE_UNSPECIFIED, 10, "not-a-token", &list),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("page_token")));
  v1::ExportModelResponse model;
  EXPECT_THAT(Export("", &model), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("job_id")));
  v1::PredictResponse predicted;
  EXPECT_THAT(Predict("", 1, 1, {1}, &predicted),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("job_id")));
  // A malformed matrix is rejected before the job is even looked up.
  EXPECT_THAT(Predict("job-000000000000", 2, 1, {1}, &predicted),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("inputs.values must hold")));

  const Watched empty_id = Watch("", 0);
  EXPECT_THAT(empty_id.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("job_id")));
  ASSERT_TRUE(Submit(LineSpec(1), &job).ok());
  const Watched negative = Watch(job.id(), -1);
  EXPECT_THAT(negative.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("after_step")));
}

TEST_F(ServiceTest, NotFoundForUnknownJobsOnEveryRpc) {
  const std::string unknown = "job-ffffffffffff";
  v1::Job job;
  EXPECT_THAT(Get(unknown, &job), GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr(unknown)));
  EXPECT_THAT(Cancel(unknown, &job), GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr(unknown)));
  v1::ExportModelResponse model;
  EXPECT_THAT(Export(unknown, &model), GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr(unknown)));
  v1::PredictResponse predicted;
  EXPECT_THAT(Predict(unknown, 1, 1, {1}, &predicted),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr(unknown)));
  EXPECT_THAT(Watch(unknown, 0).status, GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr(unknown)));
}

TEST_F(ServiceTest, FailedPreconditionForFinishedCancelAndForModelsOfUnfinishedJobs) {
  const v1::Job done = RunToEnd(LineSpec(1));
  ASSERT_EQ(done.state(), v1::SUCCEEDED);
  v1::Job job;
  EXPECT_THAT(Cancel(done.id(), &job), HasCode(grpc::StatusCode::FAILED_PRECONDITION));

  // A running job has no model yet; cancelled, it never will.
  v1::Job endless;
  ASSERT_TRUE(Submit(EndlessSpec(), &endless).ok());
  absl::Notification running;
  Watched watched;
  std::thread watcher([&] { watched = Watch(endless.id(), 0, &running); });
  running.WaitForNotification();
  v1::ExportModelResponse model;
  EXPECT_THAT(Export(endless.id(), &model), HasCode(grpc::StatusCode::FAILED_PRECONDITION));
  v1::PredictResponse predicted;
  EXPECT_THAT(Predict(endless.id(), 1, 13, std::vector<float>(13, 0.0f), &predicted),
              HasCode(grpc::StatusCode::FAILED_PRECONDITION));
  ASSERT_TRUE(Cancel(endless.id(), &job).ok());
  watcher.join();
  EXPECT_TRUE(watched.status.ok()) << watched.status.error_message();
  ASSERT_NE(watched.last(), nullptr);
  EXPECT_EQ(watched.last()->state().state(), v1::CANCELLED);
  // Every step the watcher saw is numbered 1.. without a gap.
  for (size_t i = 0; i < watched.losses.size(); ++i) {
    ASSERT_EQ(watched.losses[i].first, static_cast<int64_t>(i + 1));
  }
  EXPECT_THAT(Cancel(endless.id(), &job), HasCode(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_THAT(Export(endless.id(), &model), HasCode(grpc::StatusCode::FAILED_PRECONDITION));
}

TEST_F(ServiceTest, PagesThroughListJobs) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    v1::Job job;
    ASSERT_TRUE(Submit(LineSpec(1), &job).ok());
    ids.push_back(job.id());
  }
  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    v1::ListJobsResponse page;
    ASSERT_TRUE(List(v1::JOB_STATE_UNSPECIFIED, 2, token, &page).ok());
    for (const v1::Job& job : page.jobs()) listed.push_back(job.id());
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  // Newest first.
  EXPECT_THAT(listed, ElementsAre(ids[2], ids[1], ids[0]));
}

// The health service answers SERVING for the training service and the server as a whole.
TEST_F(ServiceTest, HealthServiceReportsServing) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(channel_);
  for (const std::string& service : {std::string(kTrainingServiceName), std::string()}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    Bound(&context);
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  Bound(&context);
  EXPECT_EQ(health->Check(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Server reflection lists the services (what grpcurl asks first). There is no reflection
// stub in Debian, so the request and answer are encoded by hand: ServerReflectionRequest
// field 7 (list_services), answer field 6 (ListServiceResponse) -> 1 (ServiceResponse)
// -> 1 (name).
std::vector<std::string> ReflectedServiceNames(const std::shared_ptr<grpc::Channel>& channel,
                                               grpc::Status* status) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  Bound(&context);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  auto await = [&queue](intptr_t expected) {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  EXPECT_TRUE(await(1));
  const std::string request("\x3a\x00", 2);
  grpc::Slice request_slice(request);
  call->Write(grpc::ByteBuffer(&request_slice, 1), reinterpret_cast<void*>(2));
  EXPECT_TRUE(await(2));
  grpc::ByteBuffer answer;
  call->Read(&answer, reinterpret_cast<void*>(3));
  const bool read = await(3);
  call->WritesDone(reinterpret_cast<void*>(4));
  await(4);
  call->Finish(status, reinterpret_cast<void*>(5));
  await(5);
  queue.Shutdown();
  std::vector<std::string> names;
  if (!read) return names;
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(answer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  google::protobuf::UnknownFieldSet response;
  EXPECT_TRUE(response.ParseFromString(bytes));
  for (int i = 0; i < response.field_count(); ++i) {
    if (response.field(i).number() != 6) continue;
    google::protobuf::UnknownFieldSet list;
    EXPECT_TRUE(list.ParseFromString(response.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      google::protobuf::UnknownFieldSet service;
      EXPECT_TRUE(service.ParseFromString(list.field(j).length_delimited()));
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
      }
    }
  }
  return names;
}

TEST_F(ServiceTest, ReflectionListsTheServices) {
  grpc::Status status;
  const std::vector<std::string> names = ReflectedServiceNames(channel_, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(names, Contains(std::string(kTrainingServiceName)));
  EXPECT_THAT(names, Contains(std::string("grpc.health.v1.Health")));
}

// Shutdown with a running job and a watcher: the job ends CANCELLED, the watcher gets that
// terminal event as the stream's last, and the server then answers UNAVAILABLE.
TEST_F(ServiceTest, ShutdownCancelsRunningJobsEndsStreamsCleanlyThenUnavailable) {
  v1::Job endless;
  ASSERT_TRUE(Submit(EndlessSpec(), &endless).ok());
  absl::Notification running;
  Watched watched;
  std::thread watcher([&] { watched = Watch(endless.id(), 0, &running); });
  running.WaitForNotification();

  server_->Shutdown();
  watcher.join();
  // The stream ends OK, or UNAVAILABLE when the server's closing of the connection overtakes
  // the call's trailers: gRPC closes it once every call has ended, and the kernel resets a
  // connection closed with bytes unread (the client's flow-control updates), dropping what it
  // had not sent yet. Seen once under a loaded ctest -j 8; the terminal event is the promise.
  EXPECT_TRUE(watched.status.ok() || watched.status.error_code() == grpc::StatusCode::UNAVAILABLE)
      << watched.status.error_message();
  ASSERT_NE(watched.last(), nullptr);
  ASSERT_TRUE(watched.last()->has_state());
  EXPECT_EQ(watched.last()->state().state(), v1::CANCELLED);
  EXPECT_GT(watched.last()->state().job().progress().step(), 0);

  v1::Job job;
  EXPECT_EQ(Get(endless.id(), &job).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Submit(LineSpec(1), &job).error_code(), grpc::StatusCode::UNAVAILABLE);
  std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  Bound(&context);
  EXPECT_EQ(health->Check(&context, request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  server_->Shutdown();  // idempotent
  server_->Wait();
}

// No worker: jobs stay QUEUED, so the queue limit is reached deterministically.
class QueueTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.metrics_listen_address = "";
    options.jobs.workers = 0;
    options.jobs.max_queued_jobs = 1;
    StartServer(options);
  }
};

TEST_F(QueueTest, ResourceExhaustedWhenTheQueueIsFullAndRetriesAreIdempotent) {
  v1::Job first;
  ASSERT_TRUE(Submit(LineSpec(1), &first, "key-1").ok());
  EXPECT_EQ(first.state(), v1::QUEUED);
  EXPECT_EQ(first.request_id(), "key-1");
  v1::Job second;
  EXPECT_THAT(Submit(LineSpec(1), &second),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     HasSubstr("the job queue is full (1 jobs queued, the limit set by "
                               "--max-queued-jobs)")));
  // A retried submit returns the job it created, even with the queue full.
  v1::Job retried;
  ASSERT_TRUE(Submit(LineSpec(1), &retried, "key-1").ok());
  EXPECT_EQ(retried.id(), first.id());

  // Not finished: no model.
  v1::ExportModelResponse model;
  EXPECT_THAT(Export(first.id(), &model), HasCode(grpc::StatusCode::FAILED_PRECONDITION));
  v1::PredictResponse predicted;
  EXPECT_THAT(Predict(first.id(), 1, 1, {0.5f}, &predicted),
              HasCode(grpc::StatusCode::FAILED_PRECONDITION));

  // A watcher of a queued job sees it cancelled.
  Watched watched;
  std::thread watcher([&] { watched = Watch(first.id(), 0); });
  v1::Job cancelled;
  ASSERT_TRUE(Cancel(first.id(), &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  watcher.join();
  EXPECT_TRUE(watched.status.ok());
  ASSERT_NE(watched.last(), nullptr);
  EXPECT_EQ(watched.last()->state().state(), v1::CANCELLED);
  EXPECT_TRUE(watched.losses.empty());

  // The queue has room again.
  EXPECT_TRUE(Submit(LineSpec(1), &second).ok());
}

// Each flag-set limit of one job's spec is INVALID_ARGUMENT naming the value, the limit and
// the flag. LineSpec: 1 input, 4 hidden units, 1 output (13 parameters), 2 steps an epoch.
class SpecLimitsTest : public ServiceTest {
 protected:
  void SetUp() override {}

  void StartWith(const SpecLimits& limits) {
    ServerOptions options;
    options.metrics_listen_address = "";
    options.jobs.workers = 0;
    options.limits = limits;
    StartServer(options);
  }
};

TEST_F(SpecLimitsTest, ModelParametersBeyondTheFlag) {
  StartWith({.max_model_parameters = 12});
  v1::Job job;
  EXPECT_THAT(Submit(LineSpec(1), &job),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("spec.model has 13 parameters; at most 12 are allowed (descentd "
                               "--max-model-parameters)")));
  server_.reset();
  StartWith({.max_model_parameters = 13});
  EXPECT_TRUE(Submit(LineSpec(1), &job).ok());
}

TEST_F(SpecLimitsTest, StepsPerJobBeyondTheFlag) {
  StartWith({.max_steps_per_job = 3});
  v1::Job job;
  EXPECT_THAT(
      Submit(LineSpec(2), &job),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             HasSubstr("spec.training asks for 4 optimizer steps (epochs x batches "
                       "per epoch); at most 3 are allowed (descentd --max-steps-per-job)")));
  EXPECT_TRUE(Submit(LineSpec(1), &job).ok());
}

TEST_F(SpecLimitsTest, InlineDatasetBeyondMaxDatasetBytes) {
  const v1::JobSpec spec = LineSpec(1);
  const int64_t bytes = static_cast<int64_t>(spec.dataset().inline_().ByteSizeLong());
  StartWith({.max_dataset_bytes = bytes - 1});
  v1::Job job;
  EXPECT_THAT(
      Submit(spec, &job),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             HasSubstr(absl::StrCat("spec.dataset.inline is ", bytes, " bytes; at most ", bytes - 1,
                                    " are allowed (descentd --max-dataset-bytes)"))));
  server_.reset();
  StartWith({.max_dataset_bytes = bytes});
  EXPECT_TRUE(Submit(spec, &job).ok());
}

// One watcher per job; no worker, so jobs stay QUEUED and their streams stay open.
class WatcherLimitTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.metrics_listen_address = "";
    options.jobs.workers = 0;
    options.jobs.max_watchers_per_job = 1;
    // A cancelled stream's slot is freed at its next send: keep that soon.
    options.jobs.heartbeat_interval = absl::Milliseconds(50);
    StartServer(options);
  }

  // An open stream that has received its first event, so the server counts it.
  struct OpenWatch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader;  // null if refused
    grpc::Status status;                                               // why it was refused
  };
  std::unique_ptr<OpenWatch> Open(const std::string& id) {
    auto watch = std::make_unique<OpenWatch>();
    Bound(&watch->context);
    v1::WatchJobRequest request;
    request.set_job_id(id);
    watch->reader = stub_->WatchJob(&watch->context, request);
    v1::WatchJobResponse event;
    if (!watch->reader->Read(&event)) {
      watch->status = watch->reader->Finish();
      watch->reader.reset();
    }
    return watch;
  }
};

TEST_F(WatcherLimitTest, OneWatcherTooManyIsResourceExhaustedAndAnEndedWatcherFreesItsSlot) {
  v1::Job job;
  ASSERT_TRUE(Submit(LineSpec(1), &job).ok());
  std::unique_ptr<OpenWatch> first = Open(job.id());
  ASSERT_NE(first->reader, nullptr) << first->status.error_message();

  std::unique_ptr<OpenWatch> second = Open(job.id());
  EXPECT_EQ(second->reader, nullptr);
  EXPECT_THAT(second->status,
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     AllOf(HasSubstr(job.id()),
                           HasSubstr("already has the most watchers --max-watchers-per-job "
                                     "allows (1)"))));

  // The limit is per job.
  v1::Job other;
  ASSERT_TRUE(Submit(LineSpec(1), &other).ok());
  std::unique_ptr<OpenWatch> other_watch = Open(other.id());
  EXPECT_NE(other_watch->reader, nullptr) << other_watch->status.error_message();

  // A client that goes away frees its slot once the server notices (its next heartbeat).
  first->context.TryCancel();
  EXPECT_EQ(first->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  std::unique_ptr<OpenWatch> third;
  const absl::Time give_up = absl::Now() + kCallTimeout;
  do {
    third = Open(job.id());
  } while (third->reader == nullptr &&
           third->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
           absl::Now() < give_up);
  ASSERT_NE(third->reader, nullptr) << third->status.error_message();

  // A stream that ends with its job frees its slot too.
  v1::Job cancelled;
  ASSERT_TRUE(Cancel(job.id(), &cancelled).ok());
  v1::WatchJobResponse event;
  while (third->reader->Read(&event)) {
  }
  EXPECT_TRUE(third->reader->Finish().ok());
  const Watched after_end = Watch(job.id(), 0);
  EXPECT_TRUE(after_end.status.ok()) << after_end.status.error_message();
  ASSERT_NE(after_end.last(), nullptr);
  EXPECT_EQ(after_end.last()->state().state(), v1::CANCELLED);

  other_watch->context.TryCancel();
  other_watch->reader->Finish();
}

TEST(ServerTest, OversizedMessageIsResourceExhausted) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";
  options.max_message_bytes = 64 << 10;
  options.jobs.workers = 0;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_OK(server);
  auto stub = v1::TrainingService::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  v1::SubmitJobRequest request;
  *request.mutable_spec() = LineSpec(1);
  v1::Matrix* features =
      request.mutable_spec()->mutable_dataset()->mutable_inline_()->mutable_features();
  for (int i = 0; i < 100'000; ++i) features->add_values(1.0f);
  grpc::ClientContext context;
  Bound(&context);
  v1::Job job;
  // gRPC's own check, before the service sees the request; it names both sizes.
  EXPECT_THAT(stub->SubmitJob(&context, request, &job),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     AllOf(HasSubstr("larger than max"), HasSubstr("vs. 65536"))));
}

TEST(ServerTest, PortInUseIsUnavailableNamingTheAddress) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";
  options.jobs.workers = 0;
  absl::StatusOr<std::unique_ptr<Server>> first = Server::Start(options);
  ASSERT_OK(first);
  options.listen_address = (*first)->address();
  EXPECT_THAT(Server::Start(options), descent::testing::StatusIs(absl::StatusCode::kUnavailable,
                                                                 HasSubstr((*first)->address())));
  options.max_message_bytes = 0;
  EXPECT_THAT(Server::Start(options), descent::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                                                 HasSubstr("--max-message-bytes must be > 0")));
}

// GET http://127.0.0.1:port/metrics with a plain socket; empty on failure.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string body;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) body.append(buffer, n);
    }
  }
  close(fd);
  return body;
}

TEST(ServerTest, MetricsEndpointCountsRpcsByMethodAndCode) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "127.0.0.1:0";
  options.jobs.workers = 0;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_OK(server);
  ASSERT_GT((*server)->metrics_port(), 0);
  EXPECT_THAT((*server)->metrics_address(), HasSubstr(absl::StrCat((*server)->metrics_port())));
  auto stub = v1::TrainingService::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  v1::GetJobRequest request;
  request.set_job_id("job-ffffffffffff");
  grpc::ClientContext context;
  Bound(&context);
  v1::Job job;
  ASSERT_EQ(stub->GetJob(&context, request, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  const std::string metrics = Scrape((*server)->metrics_port());
  EXPECT_THAT(metrics, AllOf(HasSubstr("descent_grpc_server_handled_total"),
                             HasSubstr("grpc_method=\"GetJob\""), HasSubstr("NOT_FOUND")));
}

}  // namespace
}  // namespace descent::server
