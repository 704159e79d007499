// Start-up checks of descentd's TLS files, against certificates made by openssl.
#include "server/security/server_tls.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ServerTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TestPki> pki =
        testing::MakeTestPki(absl::StrCat(::testing::TempDir(), "/server-tls-pki-", getpid()));
    ASSERT_OK(pki);
    pki_ = new testing::TestPki(*std::move(pki));
  }
  static void TearDownTestSuite() { delete pki_; }

  static testing::TestPki* pki_;
};

testing::TestPki* ServerTlsTest::pki_ = nullptr;

TEST_F(ServerTlsTest, NoFlagsMeansPlaintext) {
  absl::StatusOr<std::optional<ServerTls>> tls = LoadServerTls({});
  ASSERT_OK(tls);
  EXPECT_FALSE(tls->has_value());
}

TEST_F(ServerTlsTest, LoadsCertificateKeyAndClientCa) {
  absl::StatusOr<std::optional<ServerTls>> tls =
      LoadServerTls({pki_->server_cert, pki_->server_key, pki_->ca_cert});
  ASSERT_OK(tls);
  ASSERT_TRUE(tls->has_value());
  EXPECT_EQ((*tls)->cert_chain_pem, testing::ReadWholeFile(pki_->server_cert));
  EXPECT_EQ((*tls)->private_key_pem, testing::ReadWholeFile(pki_->server_key));
  EXPECT_EQ((*tls)->client_ca_pem, testing::ReadWholeFile(pki_->ca_cert));
}

TEST_F(ServerTlsTest, FlagsWithoutTheirPartnerAreUsageErrors) {
  EXPECT_THAT(
      CheckServerTlsFlags({pki_->server_cert, "", ""}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-cert needs --tls-key")));
  EXPECT_THAT(
      LoadServerTls({"", pki_->server_key, ""}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-key needs --tls-cert")));
  EXPECT_THAT(LoadServerTls({"", "", pki_->ca_cert}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-client-ca needs")));
}

TEST_F(ServerTlsTest, AnUnreadableFileIsNamedWithItsFlag) {
  const std::string missing = pki_->dir + "/missing.pem";
  EXPECT_THAT(
      LoadServerTls({missing, pki_->server_key, ""}),
      StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr("--tls-cert"), HasSubstr(missing))));
  EXPECT_THAT(
      LoadServerTls({pki_->server_cert, missing, ""}),
      StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr("--tls-key"), HasSubstr(missing))));
  EXPECT_THAT(LoadServerTls({pki_->server_cert, pki_->server_key, missing}),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("--tls-client-ca"), HasSubstr(missing))));
}

TEST_F(ServerTlsTest, FilesOfTheWrongKindAreRejected) {
  EXPECT_THAT(LoadServerTls({pki_->server_key, pki_->server_key, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--tls-cert"), HasSubstr("no PEM certificate"))));
  EXPECT_THAT(LoadServerTls({pki_->server_cert, pki_->server_cert, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--tls-key"), HasSubstr("no unencrypted PEM private key"))));
  EXPECT_THAT(LoadServerTls({pki_->server_cert, pki_->server_key, pki_->server_key}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-client-ca")));
}

TEST_F(ServerTlsTest, AKeyOfAnotherCertificateIsRejected) {
  EXPECT_THAT(LoadServerTls({pki_->server_cert, pki_->client_key, ""}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(pki_->client_key), HasSubstr("does not belong"),
                             HasSubstr(pki_->server_cert))));
}

}  // namespace
}  // namespace descent::server
