// Throwaway certificates for TLS tests, made at test time with the `openssl` command (from
// Debian's openssl package): a CA, a server certificate it signed for IP:127.0.0.1 and
// DNS:localhost, a client certificate it signed, and a second, unrelated CA. EC P-256 keys,
// valid for two days; nothing is checked in.
#ifndef DESCENT_TESTS_TESTING_TEST_PKI_H_
#define DESCENT_TESTS_TESTING_TEST_PKI_H_

#include <string>

#include "absl/status/statusor.h"

namespace descent::testing {

// Paths of PEM files in one directory.
struct TestPki {
  std::string dir;
  std::string ca_cert;      // the CA that signed server_* and client_*
  std::string server_cert;  // SAN IP:127.0.0.1, DNS:localhost; serverAuth
  std::string server_key;
  std::string client_cert;  // clientAuth
  std::string client_key;
  std::string other_ca_cert;  // a CA that signed nothing here
};

// Creates `dir` and the files in it (about a second). INTERNAL with openssl's output when a
// command fails, or when openssl is missing (install it: deploy/install-deps.sh test).
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_TEST_PKI_H_
