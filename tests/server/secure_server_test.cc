// descentd in-process with TLS, mutual TLS and bearer tokens, called through real channels:
// which clients get through, which are refused and with what status, and that metrics count
// refused calls without ever showing a token.
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "descent/v1/datasets.grpc.pb.h"
#include "descent/v1/training.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "server/conversion/spec_conversion.h"
#include "tests/testing/files.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"
#include "tests/testing/test_pki.h"

namespace descent::server {
namespace {

using ::descent::testing::ParseTextProto;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "tok-3f9a1c7e5d";
constexpr char kOtherToken[] = "tok-other-b81d";

void Bound(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
}

std::shared_ptr<grpc::Channel> PlaintextChannel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// TLS trusting `ca_file`, offering the client certificate when `cert_file` is given.
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address, const std::string& ca_file,
                                          const std::string& cert_file = "",
                                          const std::string& key_file = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = testing::ReadWholeFile(ca_file);
  if (!cert_file.empty()) {
    ssl.pem_cert_chain = testing::ReadWholeFile(cert_file);
    ssl.pem_private_key = testing::ReadWholeFile(key_file);
  }
  return grpc::CreateChannel(address, grpc::SslCredentials(ssl));
}

// ListJobs, the simplest call that needs authentication. `token` "" = no header.
grpc::Status ListJobs(const std::shared_ptr<grpc::Channel>& channel, const std::string& token) {
  grpc::ClientContext context;
  Bound(&context);
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  v1::ListJobsResponse response;
  return v1::TrainingService::NewStub(channel)->ListJobs(&context, v1::ListJobsRequest(),
                                                         &response);
}

grpc::Status Health(const std::shared_ptr<grpc::Channel>& channel,
                    grpc::health::v1::HealthCheckResponse* response) {
  grpc::ClientContext context;
  Bound(&context);
  return grpc::health::v1::Health::NewStub(channel)->Check(
      &context, grpc::health::v1::HealthCheckRequest(), response);
}

// Calls `method` ("/package.Service/Method") with one empty message and no metadata, whatever
// its streaming kind (on the wire they are all a stream of messages), and returns its status.
grpc::Status CallWithEmptyMessage(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  Bound(&context);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, method, &queue);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  queue.Next(&tag, &ok);
  grpc::Slice empty("");
  call->WriteLast(grpc::ByteBuffer(&empty, 1), grpc::WriteOptions(), reinterpret_cast<void*>(2));
  queue.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(3));
  while (queue.Next(&tag, &ok) && tag != reinterpret_cast<void*>(3)) {
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return status;
}

class SecureServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestPki> pki =
        testing::MakeTestPki(absl::StrCat(::testing::TempDir(), "/secure-server-pki-", getpid()));
    ASSERT_OK(pki);
    pki_ = new testing::TestPki(*std::move(pki));
  }
  static void TearDownTestSuite() { delete pki_; }

  // Starts a server on 127.0.0.1:0 with `options` plus what the test chose.
  void Start(ServerOptions options) {
    options.listen_address = "127.0.0.1:0";
    options.jobs.workers = 1;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_OK(server);
    server_ = *std::move(server);
  }
  ServerOptions Options(bool mutual = false) const {
    ServerOptions options;
    options.metrics_listen_address = "";
    options.tls = ServerTls{testing::ReadWholeFile(pki_->server_cert),
                            testing::ReadWholeFile(pki_->server_key),
                            mutual ? testing::ReadWholeFile(pki_->ca_cert) : ""};
    return options;
  }

  static testing::TestPki* pki_;
  std::unique_ptr<Server> server_;
};

testing::TestPki* SecureServerTest::pki_ = nullptr;

TEST_F(SecureServerTest, TlsServesAClientThatTrustsItsCa) {
  Start(Options());
  const auto channel = TlsChannel(server_->address(), pki_->ca_cert);
  const grpc::Status status = ListJobs(channel, "");
  EXPECT_TRUE(status.ok()) << status.error_message();
  grpc::health::v1::HealthCheckResponse health;
  ASSERT_TRUE(Health(channel, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(SecureServerTest, AClientTrustingAnotherCaIsRefused) {
  Start(Options());
  const grpc::Status status = ListJobs(TlsChannel(server_->address(), pki_->other_ca_cert), "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(SecureServerTest, APlaintextClientGetsNoAnswerFromATlsServer) {
  Start(Options());
  const grpc::Status status = ListJobs(PlaintextChannel(server_->address()), "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(SecureServerTest, MutualTlsRefusesAClientWithoutACertificate) {
  Start(Options(/*mutual=*/true));
  const grpc::Status status = ListJobs(TlsChannel(server_->address(), pki_->ca_cert), "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(SecureServerTest, MutualTlsServesAClientWithACertificateItsCaSigned) {
  Start(Options(/*mutual=*/true));
  const auto channel =
      TlsChannel(server_->address(), pki_->ca_cert, pki_->client_cert, pki_->client_key);
  const grpc::Status status = ListJobs(channel, "");
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(SecureServerTest, MutualTlsRefusesACertificateAnotherCaSigned) {
  // The server trusts only the unrelated CA for client certificates.
  ServerOptions options = Options(/*mutual=*/true);
  options.tls->client_ca_pem = testing::ReadWholeFile(pki_->other_ca_cert);
  Start(options);
  const auto channel =
      TlsChannel(server_->address(), pki_->ca_cert, pki_->client_cert, pki_->client_key);
  EXPECT_EQ(ListJobs(channel, "").error_code(), grpc::StatusCode::UNAVAILABLE);
}

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(""); }

  // Replaces the server with one whose metrics endpoint is `metrics_listen` ("" = off: the
  // endpoint takes seconds to close).
  void StartServer(const std::string& metrics_listen) {
    server_.reset();
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.metrics_listen_address = metrics_listen;
    options.jobs.workers = 1;
    options.bearer_tokens = std::vector<std::string>{kToken, kOtherToken};
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_OK(server);
    server_ = *std::move(server);
    channel_ = PlaintextChannel(server_->address());
  }

  std::string Metrics() {
    absl::StatusOr<testing::HttpResponse> response =
        testing::HttpGet(server_->metrics_port(), "/metrics");
    EXPECT_OK(response.status());
    return response.ok() ? response->body : "";
  }

  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(TokenTest, AMissingTokenIsUnauthenticatedAndSaysHowToSendOne) {
  const grpc::Status status = ListJobs(channel_, "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), AllOf(HasSubstr("missing"), HasSubstr("DESCENT_TOKEN")));
}

TEST_F(TokenTest, AWrongTokenIsUnauthenticatedAndCalledInvalid) {
  const grpc::Status status = ListJobs(channel_, "tok-guess");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), AllOf(HasSubstr("invalid"), Not(HasSubstr("tok-guess"))));
}

TEST_F(TokenTest, EveryListedTokenIsAccepted) {
  EXPECT_TRUE(ListJobs(channel_, kToken).ok());
  EXPECT_TRUE(ListJobs(channel_, kOtherToken).ok());
}

TEST_F(TokenTest, HealthNeedsNoToken) {
  grpc::health::v1::HealthCheckResponse health;
  ASSERT_TRUE(Health(channel_, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// Every method of both services, including the streaming ones, refuses a call without a
// token before it looks at the request (an empty request would otherwise be
// INVALID_ARGUMENT, or OK for ListJobs).
TEST_F(TokenTest, EveryDescentMethodNeedsAToken) {
  int methods = 0;
  for (const char* name : {"descent.v1.TrainingService", "descent.v1.DatasetService"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i, ++methods) {
      const std::string method = absl::StrCat("/", name, "/", service->method(i)->name());
      EXPECT_EQ(CallWithEmptyMessage(channel_, method).error_code(),
                grpc::StatusCode::UNAUTHENTICATED)
          << method;
    }
  }
  EXPECT_GE(methods, 11);
}

TEST_F(TokenTest, ReflectionIsNotServed) {
  EXPECT_EQ(CallWithEmptyMessage(channel_,
                                 "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(TokenTest, ReplacingTheTokensAddsAndRevokes) {
  ASSERT_OK(server_->ReplaceBearerTokens({kOtherToken, "tok-new-77e0"}));
  EXPECT_EQ(ListJobs(channel_, kToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListJobs(channel_, kOtherToken).ok());
  EXPECT_TRUE(ListJobs(channel_, "tok-new-77e0").ok());
}

TEST_F(TokenTest, MetricsCountRefusedCallsAndNeverShowATokenOrItsPrefix) {
  StartServer("127.0.0.1:0");
  ASSERT_EQ(ListJobs(channel_, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_EQ(ListJobs(channel_, "tok-guess").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(ListJobs(channel_, kToken).ok());
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics,
              HasSubstr("descent_grpc_server_handled_total{grpc_code=\"UNAUTHENTICATED\","
                        "grpc_method=\"ListJobs\",grpc_service=\"descent.v1.TrainingService\","
                        "grpc_type=\"unary\"} 2"));
  EXPECT_THAT(metrics,
              AllOf(Not(HasSubstr(kToken)), Not(HasSubstr("tok-guess")), Not(HasSubstr("Bearer"))));
}

// A WatchJob stream authenticated with `token`, for the stream tests below.
struct TokenWatch {
  TokenWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& job_id,
             const std::string& token)
      : stub(v1::TrainingService::NewStub(channel)) {
    Bound(&context);
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    v1::WatchJobRequest request;
    request.set_job_id(job_id);
    reader = stub->WatchJob(&context, request);
  }
  // Reads until the stream ends; its status.
  grpc::Status Drain() {
    v1::WatchJobResponse message;
    while (reader->Read(&message)) {
    }
    return reader->Finish();
  }

  std::unique_ptr<v1::TrainingService::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader;
};

// No worker: the job stays QUEUED, so its streams carry only heartbeats, the quiet case
// where a revoked stream must still end (at its next heartbeat).
TEST(StreamTokenTest, ATokenRevokedByAReloadEndsTheStreamsItOpenedUnauthenticated) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";
  options.jobs.workers = 0;
  options.jobs.heartbeat_interval = absl::Milliseconds(50);
  options.bearer_tokens = std::vector<std::string>{kToken, kOtherToken};
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_OK(server);
  const std::shared_ptr<grpc::Channel> channel = PlaintextChannel((*server)->address());
  v1::SubmitJobRequest submit;
  *submit.mutable_spec() = ParseTextProto<v1::JobSpec>(R"pb(
    name: "waits"
    dataset { builtin { name: "house_prices" samples: 32 seed: 1 } }
    model { hidden_layers { units: 4 } }
    loss: MEAN_SQUARED_ERROR
    optimizer { adam { learning_rate: 0.01 } }
    training { epochs: 1 batch_size: 16 }
  )pb");
  v1::Job job;
  grpc::ClientContext submit_context;
  Bound(&submit_context);
  submit_context.AddMetadata("authorization", absl::StrCat("Bearer ", kOtherToken));
  ASSERT_TRUE(v1::TrainingService::NewStub(channel)->SubmitJob(&submit_context, submit, &job).ok());

  TokenWatch revoked(channel, job.id(), kToken);
  TokenWatch kept(channel, job.id(), kOtherToken);
  v1::WatchJobResponse message;
  ASSERT_TRUE(revoked.reader->Read(&message));  // both streams are open and served
  ASSERT_TRUE(kept.reader->Read(&message));

  ASSERT_OK((*server)->ReplaceBearerTokens({kOtherToken}));
  const grpc::Status ended = revoked.Drain();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_THAT(ended.error_message(),
              AllOf(HasSubstr("revoked"), HasSubstr("--auth-token-file"), Not(HasSubstr(kToken))));
  // The stream whose token is still accepted goes on: more heartbeats after the reload.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(kept.reader->Read(&message));
    EXPECT_TRUE(message.has_heartbeat() || message.has_state());
  }
  // A new stream with the revoked token is refused at once.
  EXPECT_EQ(TokenWatch(channel, job.id(), kToken).Drain().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  kept.context.TryCancel();
  kept.Drain();
}

TEST(ServerTokensTest, StartRefusesAnEmptyTokenListAndReplaceNeedsTokens) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";
  options.bearer_tokens = std::vector<std::string>{};
  EXPECT_THAT(Server::Start(options).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--auth-token-file holds no token")));
  options.bearer_tokens.reset();
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
  ASSERT_OK(server);
  EXPECT_THAT(
      (*server)->ReplaceBearerTokens({"x"}),
      testing::StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--auth-token-file")));
}

}  // namespace
}  // namespace descent::server
