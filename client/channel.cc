#include "client/channel.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"
#include "grpcpp/support/interceptor.h"

namespace descent::client {
namespace {

using grpc::experimental::ClientInterceptorFactoryInterface;
using grpc::experimental::ClientRpcInfo;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;

// Adds the authorization header to every call's initial metadata.
class BearerTokenInterceptor : public Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string& header) : header_(header) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;  // owned by the factory, which the channel keeps alive
};

class BearerTokenInterceptorFactory : public ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}

  Interceptor* CreateClientInterceptor(ClientRpcInfo* /*info*/) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<ChannelOptions> LoadChannelOptions(const ChannelSettings& settings) {
  if (settings.tls_cert_file.empty() != settings.tls_key_file.empty()) {
    return absl::InvalidArgumentError(settings.tls_cert_file.empty()
                                          ? "--tls-key needs --tls-cert (DESCENT_TLS_CERT)"
                                          : "--tls-cert needs --tls-key (DESCENT_TLS_KEY)");
  }
  if (settings.tls_ca_file.empty() &&
      (!settings.tls_cert_file.empty() || !settings.tls_server_name.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat(settings.tls_cert_file.empty() ? "--tls-server-name" : "--tls-cert",
                     " needs --tls-ca (DESCENT_TLS_CA): the CA bundle that signed descentd's "
                     "certificate"));
  }
  ChannelOptions options;
  if (!settings.tls_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.tls_ca_pem, base::ReadFile(settings.tls_ca_file, "--tls-ca"));
    if (options.tls_ca_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-ca ", settings.tls_ca_file, " holds no PEM certificate"));
    }
  }
  if (!settings.tls_cert_file.empty()) {
    ASSIGN_OR_RETURN(options.tls_cert_pem, base::ReadFile(settings.tls_cert_file, "--tls-cert"));
    ASSIGN_OR_RETURN(options.tls_key_pem, base::ReadFile(settings.tls_key_file, "--tls-key"));
  }
  options.tls_server_name = settings.tls_server_name;
  if (!settings.token_file.empty()) {
    ASSIGN_OR_RETURN(const std::string token, base::ReadFile(settings.token_file, "--token-file"));
    options.bearer_token = std::string(absl::StripAsciiWhitespace(token));
    if (options.bearer_token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file ", settings.token_file, " is empty"));
    }
  } else {
    options.bearer_token = std::string(absl::StripAsciiWhitespace(settings.token));
  }
  return options;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target,
                                           const ChannelOptions& options) {
  grpc::ChannelArguments args;
  // Watch streams carry up to thousands of loss points per message.
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  // Reconnect quickly when the server comes back (watch retries ride on this).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_ca_pem;
    ssl.pem_cert_chain = options.tls_cert_pem;
    ssl.pem_private_key = options.tls_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::vector<std::unique_ptr<ClientInterceptorFactoryInterface>> interceptors;
  if (!options.bearer_token.empty()) {
    interceptors.push_back(std::make_unique<BearerTokenInterceptorFactory>(options.bearer_token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(interceptors));
}

}  // namespace descent::client
