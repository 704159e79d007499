// What the CLI's TLS and token settings turn into, and the usage errors it reports before
// connecting. (TLS handshakes themselves: tests/server/secure_server_test.cc and
// tests/integration/security_test.cc.)
#include "client/channel.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::testing::StatusIs;
using ::descent::testing::WriteTempFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

TEST(LoadChannelOptionsTest, NothingGivenMeansPlaintextWithoutToken) {
  absl::StatusOr<ChannelOptions> options = LoadChannelOptions({});
  ASSERT_OK(options);
  EXPECT_TRUE(options->tls_ca_pem.empty());
  EXPECT_TRUE(options->bearer_token.empty());
}

TEST(LoadChannelOptionsTest, ReadsTheFilesAndTrimsTheToken) {
  ChannelSettings settings;
  settings.tls_ca_file = WriteTempFile("ca.pem", kPem);
  settings.tls_cert_file = WriteTempFile("cert.pem", kPem);
  settings.tls_key_file = WriteTempFile("key.pem", "KEY");
  settings.tls_server_name = "descentd.internal";
  settings.token = "  from-env\n";
  absl::StatusOr<ChannelOptions> options = LoadChannelOptions(settings);
  ASSERT_OK(options);
  EXPECT_EQ(options->tls_ca_pem, kPem);
  EXPECT_EQ(options->tls_cert_pem, kPem);
  EXPECT_EQ(options->tls_key_pem, "KEY");
  EXPECT_EQ(options->tls_server_name, "descentd.internal");
  EXPECT_EQ(options->bearer_token, "from-env");
}

TEST(LoadChannelOptionsTest, ATokenFileWinsOverTheEnvironment) {
  ChannelSettings settings;
  settings.token = "from-env";
  settings.token_file = WriteTempFile("token", "from-file\n");
  absl::StatusOr<ChannelOptions> options = LoadChannelOptions(settings);
  ASSERT_OK(options);
  EXPECT_EQ(options->bearer_token, "from-file");
  settings.token_file = WriteTempFile("empty-token", "\n");
  EXPECT_THAT(LoadChannelOptions(settings),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--token-file")));
}

TEST(LoadChannelOptionsTest, UsageErrorsNameTheFlag) {
  ChannelSettings half;
  half.tls_ca_file = WriteTempFile("ca.pem", kPem);
  half.tls_cert_file = WriteTempFile("cert.pem", kPem);
  EXPECT_THAT(LoadChannelOptions(half), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("--tls-cert needs --tls-key")));
  ChannelSettings no_ca;
  no_ca.tls_server_name = "localhost";
  EXPECT_THAT(
      LoadChannelOptions(no_ca),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("--tls-server-name needs --tls-ca"), HasSubstr("DESCENT_TLS_CA"))));
  ChannelSettings missing;
  missing.tls_ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(LoadChannelOptions(missing),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("--tls-ca"), HasSubstr("/nonexistent/ca.pem"))));
  ChannelSettings not_pem;
  not_pem.tls_ca_file = WriteTempFile("not-a-ca.txt", "hello");
  EXPECT_THAT(LoadChannelOptions(not_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no PEM certificate")));
}

}  // namespace
}  // namespace descent::client
