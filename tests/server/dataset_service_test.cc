// DatasetService in-process: a real Server on 127.0.0.1:0 with a dataset directory, called
// through a real channel. Uploads in chunks, dedupe, the size limit mid-stream, every code,
// jobs on uploaded tables (standardised, class names in predictions), and deletion while a
// job uses a dataset.
#include "server/rpc/dataset_service.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "descent/v1/datasets.grpc.pb.h"
#include "descent/v1/training.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "server/conversion/spec_conversion.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"

namespace descent::server {
namespace {

namespace fs = std::filesystem;
using ::descent::testing::ParseTextProto;
using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kCallTimeout = absl::Seconds(60);

void Bound(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
}

MATCHER_P2(GrpcIs, code, message_matcher, "") {
  *result_listener << "status is " << arg.error_code() << ": " << arg.error_message();
  return arg.error_code() == code && ::testing::Matches(message_matcher)(arg.error_message());
}

// Two well separated classes in two features with large offsets, so training only works
// well when standardised; the label is text.
std::string TwoClusters(int rows) {
  std::string csv = "height_mm,weight_g,\"kind, common name\"\n";
  for (int i = 0; i < rows; ++i) {
    const bool big = i % 2 == 0;
    const double jitter = (i % 7) * 0.3;
    absl::StrAppend(&csv, big ? 1500 + jitter : 1490 - jitter, ",",
                    big ? 90000 + 10 * jitter : 89950 - 10 * jitter, ",",
                    big ? "\"heron, grey\"" : "sparrow", "\r\n");
  }
  return csv;
}

// ReceiveUpload over a scripted stream; counts how many messages it read.
struct ScriptedStream {
  std::vector<v1::UploadDatasetRequest> messages;
  size_t next = 0;
  bool Read(v1::UploadDatasetRequest* message) {
    if (next >= messages.size()) return false;
    *message = messages[next++];
    return true;
  }
};

v1::UploadDatasetRequest Header(const std::string& name, int64_t size = 0) {
  v1::UploadDatasetRequest request;
  request.mutable_header()->set_name(name);
  request.mutable_header()->set_size_bytes(size);
  return request;
}
v1::UploadDatasetRequest Chunk(const std::string& bytes) {
  v1::UploadDatasetRequest request;
  request.set_chunk(bytes);
  return request;
}

TEST(ReceiveUploadTest, JoinsChunks) {
  ScriptedStream stream{{Header("a", 8), Chunk("x,y\n"), Chunk("1,2\n")}};
  absl::StatusOr<ReceivedUpload> upload =
      ReceiveUpload([&](v1::UploadDatasetRequest* m) { return stream.Read(m); }, 100);
  ASSERT_OK(upload);
  EXPECT_EQ(upload->header.name(), "a");
  EXPECT_EQ(upload->bytes, "x,y\n1,2\n");
}

TEST(ReceiveUploadTest, RefusesAnOversizedUploadBeforeReadingTheRest) {
  ScriptedStream stream{{Header("a"), Chunk(std::string(60, 'x')), Chunk(std::string(60, 'x')),
                         Chunk("never read"), Chunk("never read")}};
  EXPECT_THAT(ReceiveUpload([&](v1::UploadDatasetRequest* m) { return stream.Read(m); }, 100),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("at most 100 bytes"), HasSubstr("--max-dataset-bytes"))));
  EXPECT_EQ(stream.next, 3u);

  ScriptedStream announced{{Header("a", 101), Chunk("x")}};
  EXPECT_THAT(ReceiveUpload([&](v1::UploadDatasetRequest* m) { return announced.Read(m); }, 100),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("101")));
  EXPECT_EQ(announced.next, 1u);
}

TEST(ReceiveUploadTest, MalformedStreams) {
  auto receive = [](std::vector<v1::UploadDatasetRequest> messages) {
    ScriptedStream stream{std::move(messages)};
    return ReceiveUpload([&](v1::UploadDatasetRequest* m) { return stream.Read(m); }, 100);
  };
  EXPECT_THAT(receive({}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header")));
  EXPECT_THAT(receive({Chunk("a\n1\n")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header must come first")));
  EXPECT_THAT(receive({Header("a"), Chunk("a\n"), Header("b")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("once")));
  EXPECT_THAT(receive({Header("a")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no bytes")));
  EXPECT_THAT(receive({Header("a", 10), Chunk("a\n1\n")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("announced 10 bytes")));
  EXPECT_THAT(receive({Header("a", -1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("size_bytes")));
}

class DatasetServiceTest : public ::testing::Test {
 protected:
  void StartServer(int workers) {
    std::string pattern = ::testing::TempDir() + "/dataset_service_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.metrics_listen_address = "";
    options.dataset_dir = root_ + "/datasets";
    options.limits.max_dataset_bytes = 64 << 10;
    options.jobs.workers = workers;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_OK(server);
    server_ = *std::move(server);
    auto channel =
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    datasets_ = v1::DatasetService::NewStub(channel);
    training_ = v1::TrainingService::NewStub(channel);
  }
  void TearDown() override {
    server_.reset();
    if (!root_.empty()) fs::remove_all(root_);
  }

  // Sends `bytes` in chunks of `chunk` bytes.
  grpc::Status Upload(const std::string& name, const std::string& bytes,
                      v1::UploadDatasetResponse* response, size_t chunk = 1000) {
    grpc::ClientContext context;
    Bound(&context);
    auto writer = datasets_->UploadDataset(&context, response);
    writer->Write(Header(name));
    for (size_t at = 0; at < bytes.size(); at += chunk) {
      if (!writer->Write(Chunk(bytes.substr(at, chunk)))) break;  // the server gave up
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job) {
    grpc::ClientContext context;
    Bound(&context);
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    return training_->SubmitJob(&context, request, job);
  }

  grpc::Status Delete(const std::string& reference, v1::DeleteDatasetResponse* response) {
    grpc::ClientContext context;
    Bound(&context);
    v1::DeleteDatasetRequest request;
    request.set_dataset(reference);
    return datasets_->DeleteDataset(&context, request, response);
  }

  // Waits on the job's watch stream until it ends; returns the final job.
  v1::Job WaitForEnd(const std::string& job_id) {
    grpc::ClientContext context;
    Bound(&context);
    v1::WatchJobRequest request;
    request.set_job_id(job_id);
    auto reader = training_->WatchJob(&context, request);
    v1::WatchJobResponse event;
    v1::Job last;
    while (reader->Read(&event)) {
      if (event.has_state()) last = event.state().job();
    }
    EXPECT_TRUE(reader->Finish().ok());
    return last;
  }

  static v1::JobSpec ClustersSpec(const std::string& dataset) {
    v1::JobSpec spec = ParseTextProto<v1::JobSpec>(R"pb(
      name: "clusters"
      dataset { targets: "kind, common name" standardize: true }
      model { hidden_layers { units: 8 } }
      loss: CATEGORICAL_CROSS_ENTROPY
      optimizer { adam { learning_rate: 0.05 } }
      training { epochs: 30 batch_size: 16 seed: 3 validation_fraction: 0.25 }
    )pb");
    spec.mutable_dataset()->set_name(dataset);
    return spec;
  }

  std::string root_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::DatasetService::Stub> datasets_;
  std::unique_ptr<v1::TrainingService::Stub> training_;
};

TEST_F(DatasetServiceTest, UploadGetListAndDedupe) {
  StartServer(/*workers=*/0);
  const std::string csv = TwoClusters(200);
  v1::UploadDatasetResponse uploaded;
  ASSERT_TRUE(Upload("birds", csv, &uploaded, /*chunk=*/777).ok());
  EXPECT_FALSE(uploaded.already_stored());
  EXPECT_EQ(uploaded.dataset().name(), "birds");
  EXPECT_EQ(uploaded.dataset().rows(), 200);
  EXPECT_EQ(uploaded.dataset().size_bytes(), static_cast<int64_t>(csv.size()));
  ASSERT_EQ(uploaded.dataset().columns_size(), 3);
  EXPECT_THAT(uploaded.dataset().columns(2).categories(), ElementsAre("heron, grey", "sparrow"));

  v1::UploadDatasetResponse again;
  ASSERT_TRUE(Upload("birds-again", csv, &again, /*chunk=*/50).ok());
  EXPECT_TRUE(again.already_stored());
  EXPECT_EQ(again.dataset().id(), uploaded.dataset().id());
  EXPECT_THAT(again.dataset().names(), ElementsAre("birds", "birds-again"));

  grpc::ClientContext get_context;
  Bound(&get_context);
  v1::GetDatasetRequest get;
  get.set_dataset(uploaded.dataset().id());
  v1::Dataset got;
  ASSERT_TRUE(datasets_->GetDataset(&get_context, get, &got).ok());
  EXPECT_EQ(got.name(), "birds");

  grpc::ClientContext list_context;
  Bound(&list_context);
  v1::ListDatasetsResponse list;
  ASSERT_TRUE(datasets_->ListDatasets(&list_context, v1::ListDatasetsRequest(), &list).ok());
  ASSERT_EQ(list.datasets_size(), 1);
  EXPECT_EQ(list.datasets(0).id(), uploaded.dataset().id());
}

TEST_F(DatasetServiceTest, ErrorCodes) {
  StartServer(/*workers=*/0);
  v1::UploadDatasetResponse response;
  EXPECT_THAT(Upload("bad", "a,b\n1,2\n3,x,5\n", &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("line 3, column 3:")));
  // Past the 64 KiB limit: refused while streaming.
  EXPECT_THAT(Upload("huge", TwoClusters(5000), &response),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED, HasSubstr("--max-dataset-bytes")));
  ASSERT_TRUE(Upload("taken", "a,b\n1,2\n", &response).ok());
  EXPECT_THAT(Upload("taken", "a,b\n3,4\n", &response),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, HasSubstr("taken")));

  grpc::ClientContext context;
  Bound(&context);
  v1::GetDatasetRequest get;
  get.set_dataset("nope");
  v1::Dataset dataset;
  EXPECT_THAT(datasets_->GetDataset(&context, get, &dataset),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("nope")));
  v1::DeleteDatasetResponse deleted;
  EXPECT_THAT(Delete("", &deleted), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("dataset")));
  EXPECT_THAT(Delete("nope", &deleted), GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("nope")));

  // Jobs on unknown datasets or columns.
  v1::Job job;
  EXPECT_THAT(Submit(ClustersSpec("nope"), &job),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("spec.dataset.name")));
  v1::JobSpec spec = ClustersSpec("taken");
  spec.mutable_dataset()->set_targets(0, "price");
  EXPECT_THAT(Submit(spec, &job),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     AllOf(HasSubstr("spec.dataset.targets[0] \"price\""), HasSubstr("a, b"))));
  spec.mutable_dataset()->set_targets(0, "b");
  EXPECT_THAT(Submit(spec, &job), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                         HasSubstr("one class only")));
}

TEST_F(DatasetServiceTest, DeleteIsRefusedWhileAQueuedJobUsesTheDataset) {
  StartServer(/*workers=*/0);  // jobs stay QUEUED
  v1::UploadDatasetResponse uploaded;
  ASSERT_TRUE(Upload("birds", TwoClusters(40), &uploaded).ok());
  v1::Job job;
  ASSERT_TRUE(Submit(ClustersSpec("birds"), &job).ok());
  EXPECT_EQ(job.state(), v1::QUEUED);
  EXPECT_EQ(job.spec().dataset().resolved().id(), uploaded.dataset().id());

  v1::DeleteDatasetResponse deleted;
  EXPECT_THAT(Delete("birds", &deleted),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, HasSubstr(job.id())));
  // A second name can come and go while the job waits: the content stays.
  v1::UploadDatasetResponse aliased;
  ASSERT_TRUE(Upload("herons", TwoClusters(40), &aliased).ok());
  ASSERT_TRUE(Delete("herons", &deleted).ok());
  EXPECT_THAT(deleted.remaining_names(), ElementsAre("birds"));

  grpc::ClientContext context;
  Bound(&context);
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  v1::Job cancelled;
  ASSERT_TRUE(training_->CancelJob(&context, cancel, &cancelled).ok());
  ASSERT_TRUE(Delete(uploaded.dataset().id(), &deleted).ok());
  EXPECT_EQ(deleted.dataset().name(), "birds");
  EXPECT_THAT(deleted.remaining_names(), ::testing::IsEmpty());
  EXPECT_TRUE(fs::is_empty(root_ + "/datasets"));
}

TEST_F(DatasetServiceTest, StandardisedJobPredictsClassNamesFromRawInputs) {
  StartServer(/*workers=*/1);
  v1::UploadDatasetResponse uploaded;
  ASSERT_TRUE(Upload("birds", TwoClusters(200), &uploaded).ok());
  v1::Job job;
  ASSERT_TRUE(Submit(ClustersSpec("birds"), &job).ok());
  const v1::ResolvedDataset& resolved = job.spec().dataset().resolved();
  EXPECT_THAT(resolved.feature_names(), ElementsAre("height_mm", "weight_g"));
  ASSERT_EQ(resolved.mean_size(), 2);
  EXPECT_NEAR(resolved.mean(0), 1495, 5);
  EXPECT_NEAR(resolved.scale(0), 5, 1.5);

  const v1::Job done = WaitForEnd(job.id());
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  EXPECT_GE(done.validation_metrics().accuracy(), 0.95);

  grpc::ClientContext context;
  Bound(&context);
  v1::PredictRequest predict;
  predict.set_job_id(job.id());
  predict.mutable_inputs()->set_rows(2);
  predict.mutable_inputs()->set_cols(2);
  for (float v : {1501.0f, 90010.0f, 1488.0f, 89940.0f}) predict.mutable_inputs()->add_values(v);
  v1::PredictResponse predictions;
  ASSERT_TRUE(training_->Predict(&context, predict, &predictions).ok());
  EXPECT_THAT(predictions.class_names(), ElementsAre("heron, grey", "sparrow"));

  // The export folds the standardisation into the first layer: raw inputs give the same
  // first-layer pre-activations as standardised ones through the trained weights.
  grpc::ClientContext export_context;
  Bound(&export_context);
  v1::ExportModelRequest export_request;
  export_request.set_job_id(job.id());
  v1::ExportModelResponse model;
  ASSERT_TRUE(training_->ExportModel(&export_context, export_request, &model).ok());
  const v1::LayerParameters& first = model.parameters().layers(0);
  const float raw[2] = {1501.0f, 90010.0f};
  absl::StatusOr<TrainedModel> trained = server_->job_manager().Model(job.id());
  ASSERT_OK(trained);
  const LayerParameters& trained_first = trained->parameters.front();
  for (int o = 0; o < first.weight().rows(); ++o) {
    double folded = first.bias(o), reference = trained_first.bias[o];
    for (int i = 0; i < 2; ++i) {
      folded += first.weight().values(o * 2 + i) * raw[i];
      reference += trained_first.weight.row(o)[i] * (raw[i] - resolved.mean(i)) / resolved.scale(i);
    }
    EXPECT_NEAR(folded, reference, 1e-2 * (1 + std::abs(reference))) << o;
  }
}

}  // namespace
}  // namespace descent::server
