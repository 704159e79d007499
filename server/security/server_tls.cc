#include "server/security/server_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of `pem`; INVALID_ARGUMENT naming the flag and file when none parses.
absl::StatusOr<std::unique_ptr<X509, X509Free>> FirstCertificate(const char* flag,
                                                                 const std::string& path,
                                                                 const std::string& pem) {
  auto bio = MemoryBio(pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return cert;
}

}  // namespace

absl::Status CheckServerTlsFlags(const ServerTlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        files.cert.empty() ? "--tls-key needs --tls-cert: give the certificate it belongs to"
                           : "--tls-cert needs --tls-key: give the certificate's private key");
  }
  if (files.cert.empty() && !files.client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS plus client "
        "certificates");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ServerTls>> LoadServerTls(const ServerTlsFiles& files) {
  if (files.cert.empty() && files.key.empty() && files.client_ca.empty()) return std::nullopt;
  RETURN_IF_ERROR(CheckServerTlsFlags(files));
  ServerTls tls;
  ASSIGN_OR_RETURN(tls.cert_chain_pem, base::ReadFile(files.cert, "--tls-cert"));
  ASSIGN_OR_RETURN(tls.private_key_pem, base::ReadFile(files.key, "--tls-key"));
  ASSIGN_OR_RETURN(const auto cert, FirstCertificate("--tls-cert", files.cert, tls.cert_chain_pem));
  auto key_bio = MemoryBio(tls.private_key_pem);
  // A passphrase callback that gives none: an encrypted key fails here instead of OpenSSL
  // prompting on a terminal that a server does not have.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return -1; };
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-key ", files.key,
                     " holds no unencrypted PEM private key (-----BEGIN ... KEY-----)"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("--tls-key ", files.key,
                                                   " does not belong to the certificate in "
                                                   "--tls-cert ",
                                                   files.cert));
  }
  if (!files.client_ca.empty()) {
    ASSIGN_OR_RETURN(tls.client_ca_pem, base::ReadFile(files.client_ca, "--tls-client-ca"));
    RETURN_IF_ERROR(
        FirstCertificate("--tls-client-ca", files.client_ca, tls.client_ca_pem).status());
  }
  return tls;
}

}  // namespace descent::server
