// TLS, mutual TLS and bearer tokens with the real descentd and descent binaries: which CLI
// invocations get through and how the others fail (message, exit code), start-up checks of
// the TLS and token flags, SIGHUP token reload, and that no token reaches the server's log
// or /metrics.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "descent/v1/training.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace descent::integration {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Duration kCliTimeout = absl::Seconds(60);

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestPki> pki =
        testing::MakeTestPki(absl::StrCat(::testing::TempDir(), "/security-pki-", getpid()));
    ASSERT_OK(pki);
    pki_ = new testing::TestPki(*std::move(pki));
  }
  static void TearDownTestSuite() { delete pki_; }

  static testing::ProcessResult Cli(const std::string& server, std::vector<std::string> args,
                                    std::vector<std::pair<std::string, std::string>> env = {}) {
    return RunCli(server, std::move(args), kCliTimeout, std::move(env));
  }

  // descentd with its flags only (no server expected to come up).
  static testing::ProcessResult Descentd(std::vector<std::string> flags) {
    std::vector<std::string> argv = {DESCENTD_PATH,      "--listen", "127.0.0.1:0",
                                     "--metrics-listen", "",         "--data-dir",
                                     pki_->dir + "/data"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(argv, kCliTimeout);
    EXPECT_OK(result);
    return result.ok() ? *result : testing::ProcessResult{};
  }

  static testing::TestPki* pki_;
};

testing::TestPki* SecurityTest::pki_ = nullptr;

TEST_F(SecurityTest, MutualTlsAdmitsOnlyAClientWithACertificateAndTheRightCa) {
  client::ClientOptions options;
  options.channel.tls_ca_pem = ReadWholeFile(pki_->ca_cert);
  options.channel.tls_cert_pem = ReadWholeFile(pki_->client_cert);
  options.channel.tls_key_pem = ReadWholeFile(pki_->client_key);
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::Start({"--tls-cert", pki_->server_cert, "--tls-key", pki_->server_key,
                              "--tls-client-ca", pki_->ca_cert},
                             options);
  ASSERT_OK(server);
  const std::string address = (*server)->address();
  EXPECT_THAT((*server)->process().Stderr(), HasSubstr("mutual TLS"));

  testing::ProcessResult ok =
      Cli(address, {"--tls-ca", pki_->ca_cert, "--tls-cert", pki_->client_cert, "--tls-key",
                    pki_->client_key, "health"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, address + ": SERVING\n");

  // The same through the environment, dialing 127.0.0.1 but checking the name "localhost".
  testing::ProcessResult by_env = Cli(address, {"--tls-server-name", "localhost", "list"},
                                      {{"DESCENT_TLS_CA", pki_->ca_cert},
                                       {"DESCENT_TLS_CERT", pki_->client_cert},
                                       {"DESCENT_TLS_KEY", pki_->client_key}});
  EXPECT_EQ(by_env.exit_code, 0) << by_env.err;

  testing::ProcessResult no_cert = Cli(address, {"--tls-ca", pki_->ca_cert, "health"});
  EXPECT_EQ(no_cert.exit_code, 3) << no_cert.err;
  EXPECT_THAT(no_cert.err, AllOf(HasSubstr("cannot reach descentd"), HasSubstr("TLS is on"),
                                 HasSubstr("--tls-cert")));

  testing::ProcessResult wrong_ca =
      Cli(address, {"--tls-ca", pki_->other_ca_cert, "--tls-cert", pki_->client_cert, "--tls-key",
                    pki_->client_key, "health"});
  EXPECT_EQ(wrong_ca.exit_code, 3) << wrong_ca.err;

  testing::ProcessResult wrong_name =
      Cli(address, {"--tls-ca", pki_->ca_cert, "--tls-cert", pki_->client_cert, "--tls-key",
                    pki_->client_key, "--tls-server-name", "elsewhere.example", "health"});
  EXPECT_EQ(wrong_name.exit_code, 3) << wrong_name.err;

  testing::ProcessResult plaintext = Cli(address, {"health"});
  EXPECT_EQ(plaintext.exit_code, 3) << plaintext.err;
  EXPECT_THAT(plaintext.err, HasSubstr("If descentd serves TLS, pass --tls-ca"));
}

TEST_F(SecurityTest, TlsWithoutClientCertificatesServesTheCli) {
  client::ClientOptions options;
  options.channel.tls_ca_pem = ReadWholeFile(pki_->ca_cert);
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server = DescentdProcess::Start(
      {"--tls-cert", pki_->server_cert, "--tls-key", pki_->server_key}, options);
  ASSERT_OK(server);
  testing::ProcessResult ok = Cli((*server)->address(), {"--tls-ca", pki_->ca_cert, "list"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "no jobs\n");
}

TEST_F(SecurityTest, CliTlsFlagsAreCheckedBeforeConnecting) {
  const std::string nowhere = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  testing::ProcessResult half =
      Cli(nowhere, {"--tls-ca", pki_->ca_cert, "--tls-cert", pki_->client_cert, "health"});
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_THAT(half.err, HasSubstr("--tls-cert needs --tls-key"));
  const std::string missing = pki_->dir + "/missing-ca.pem";
  testing::ProcessResult unreadable = Cli(nowhere, {"--tls-ca", missing, "health"});
  EXPECT_EQ(unreadable.exit_code, 2);
  EXPECT_THAT(unreadable.err, AllOf(HasSubstr("--tls-ca"), HasSubstr(missing)));
}

TEST_F(SecurityTest, BadTlsAndTokenFlagsStopDescentdAtStartupNamingFlagAndFile) {
  testing::ProcessResult half = Descentd({"--tls-cert", pki_->server_cert});
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_THAT(half.err, HasSubstr("--tls-cert needs --tls-key"));

  const std::string missing = pki_->dir + "/missing.pem";
  testing::ProcessResult unreadable =
      Descentd({"--tls-cert", missing, "--tls-key", pki_->server_key});
  EXPECT_EQ(unreadable.exit_code, 1);
  EXPECT_THAT(unreadable.err, AllOf(HasSubstr("--tls-cert"), HasSubstr(missing)));

  testing::ProcessResult mismatched =
      Descentd({"--tls-cert", pki_->server_cert, "--tls-key", pki_->client_key});
  EXPECT_EQ(mismatched.exit_code, 1);
  EXPECT_THAT(mismatched.err, AllOf(HasSubstr("--tls-key"), HasSubstr(pki_->client_key),
                                    HasSubstr("does not belong")));

  testing::ProcessResult bad_ca = Descentd(
      {"--tls-cert", pki_->server_cert, "--tls-key", pki_->server_key, "--tls-client-ca", missing});
  EXPECT_EQ(bad_ca.exit_code, 1);
  EXPECT_THAT(bad_ca.err, AllOf(HasSubstr("--tls-client-ca"), HasSubstr(missing)));

  testing::ProcessResult no_tokens = Descentd({"--auth-token-file", missing});
  EXPECT_EQ(no_tokens.exit_code, 1);
  EXPECT_THAT(no_tokens.err, AllOf(HasSubstr("--auth-token-file"), HasSubstr(missing)));
}

TEST_F(SecurityTest, TokensAreCheckedReloadedOnSighupAndNeverLogged) {
  const std::string alpha = "alpha-5c0e8d2b91", beta = "beta-7a41f3e6c2", gamma = "gamma-e19b24d7";
  const std::string token_file =
      WriteTempFile("tokens", "# descent clients\n" + alpha + "\n\n  " + beta + "  \n");
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::Start({"--auth-token-file", token_file});
  ASSERT_OK(server);  // its health checks carry no token
  const std::string address = (*server)->address();

  testing::ProcessResult missing = Cli(address, {"list"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, AllOf(HasSubstr("missing bearer token"), HasSubstr("DESCENT_TOKEN"),
                                 HasSubstr("UNAUTHENTICATED")));
  testing::ProcessResult wrong = Cli(address, {"list"}, {{"DESCENT_TOKEN", "not-a-token"}});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_THAT(wrong.err, HasSubstr("invalid bearer token"));
  EXPECT_EQ(Cli(address, {"list"}, {{"DESCENT_TOKEN", alpha}}).exit_code, 0);
  EXPECT_EQ(Cli(address, {"health"}).exit_code, 0);  // health needs no token

  // Rotate: alpha out, gamma in.
  WriteTempFile("tokens", beta + "\n" + gamma + "\n");
  (*server)->process().Signal(SIGHUP);
  ASSERT_TRUE((*server)->process().WaitForOutput("SIGHUP: 2 bearer token(s) loaded",
                                                 absl::Seconds(30), /*on_stderr=*/true));
  EXPECT_EQ(Cli(address, {"list"}, {{"DESCENT_TOKEN", alpha}}).exit_code, 2);
  EXPECT_EQ(Cli(address, {"list"}, {{"DESCENT_TOKEN", beta}}).exit_code, 0);
  const std::string gamma_file = WriteTempFile("gamma-token", gamma + "\n");
  testing::ProcessResult by_file = Cli(address, {"--token-file", gamma_file, "list"});
  EXPECT_EQ(by_file.exit_code, 0) << by_file.err;

  // A reload that cannot read the file keeps the tokens in force.
  std::remove(token_file.c_str());
  (*server)->process().Signal(SIGHUP);
  ASSERT_TRUE((*server)->process().WaitForOutput("keeping the previous tokens", absl::Seconds(30),
                                                 /*on_stderr=*/true));
  EXPECT_EQ(Cli(address, {"list"}, {{"DESCENT_TOKEN", gamma}}).exit_code, 0);

  ASSERT_GT((*server)->metrics_port(), 0);
  absl::StatusOr<testing::HttpResponse> metrics =
      testing::HttpGet((*server)->metrics_port(), "/metrics");
  ASSERT_OK(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("grpc_code=\"UNAUTHENTICATED\""));
  const std::string log = (*server)->process().Stderr();
  for (const std::string& token : {alpha, beta, gamma, std::string("not-a-token")}) {
    EXPECT_THAT(log, Not(HasSubstr(token)));
    EXPECT_THAT(metrics->body, Not(HasSubstr(token)));
  }
}

// The token file is re-read while `descent watch` streams with a token it no longer holds:
// the stream ends UNAUTHENTICATED (the CLI exits 2 saying so) instead of running on.
TEST_F(SecurityTest, ATokenRevokedOnSighupEndsTheWatchStreamsItOpened) {
  const std::string alpha = "alpha-0d6e2b91c4", beta = "beta-93f1a7c5e0";
  const std::string token_file = WriteTempFile("stream-tokens", alpha + "\n" + beta + "\n");
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server = DescentdProcess::Start(
      {"--auth-token-file", token_file, "--workers", "1", "--heartbeat-interval", "200ms"});
  ASSERT_OK(server);
  const std::string address = (*server)->address();
  // Trains until cancelled: 400 rows in batches of 32, 13 steps an epoch, 6.5M steps.
  const std::string spec = WriteTempFile(
      "endless.json",
      R"({"name": "endless", "dataset": {"builtin": {"name": "house_prices", "samples": 400,)"
      R"( "seed": 3}}, "model": {"hiddenLayers": [{"units": 16}]}, "loss":)"
      R"( "MEAN_SQUARED_ERROR", "optimizer": {"sgd": {"learningRate": 0.0001}}, "training":)"
      R"( {"epochs": 500000, "batchSize": 32, "stopOnDivergence": false}})");
  testing::ProcessResult submitted =
      Cli(address, {"-o", "json", "submit", spec}, {{"DESCENT_TOKEN", beta}});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  v1::Job job;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(submitted.out, &job).ok())
      << submitted.out;

  testing::ProcessOptions as_alpha;
  as_alpha.env = {{"DESCENT_TOKEN", alpha}};
  as_alpha.unset_env = {"DESCENT_SERVER", "DESCENT_TOKEN_FILE"};
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> watch = testing::Subprocess::Start(
      {DESCENT_CLI_PATH, "--server", address, "-o", "json", "watch", job.id()}, as_alpha);
  ASSERT_OK(watch);
  ASSERT_TRUE((*watch)->WaitForOutput("\"losses\"", kCliTimeout)) << (*watch)->Stderr();

  WriteTempFile("stream-tokens", beta + "\n");
  (*server)->process().Signal(SIGHUP);
  absl::StatusOr<int> exit_code = (*watch)->Wait(kCliTimeout);
  ASSERT_OK(exit_code) << "the watch outlived the revocation of its token";
  EXPECT_EQ(*exit_code, 2) << (*watch)->Stderr();
  EXPECT_THAT((*watch)->Stderr(),
              AllOf(HasSubstr("UNAUTHENTICATED"), HasSubstr("revoked"), Not(HasSubstr(alpha))));

  testing::ProcessResult cancelled = Cli(address, {"cancel", job.id()}, {{"DESCENT_TOKEN", beta}});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
}

}  // namespace
}  // namespace descent::integration
