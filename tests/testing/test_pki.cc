#include "tests/testing/test_pki.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tests/testing/process.h"

namespace descent::testing {
namespace {

absl::Status Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ProcessResult> result = RunProcess(argv, absl::Seconds(60));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), " exited ", result->exit_code, ": ", result->err));
  }
  return absl::OkStatus();
}

// A self-signed CA certificate and its key.
absl::Status MakeCa(const std::string& cert, const std::string& key, const std::string& name) {
  return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
                  "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                  "keyUsage=critical,keyCertSign,cRLSign"});
}

// A certificate for `name` signed by the CA, with the extensions in `extensions`.
absl::Status MakeLeaf(const TestPki& pki, const std::string& ca_key, const std::string& name,
                      const std::string& cert, const std::string& key,
                      const std::string& extensions) {
  const std::string csr = cert + ".csr";
  const std::string ext_file = cert + ".ext";
  std::ofstream(ext_file) << extensions;
  absl::Status status = Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                 "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name});
  if (!status.ok()) return status;
  return Openssl({"x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", ca_key,
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext_file});
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  TestPki pki;
  pki.dir = dir;
  pki.ca_cert = dir + "/ca.pem";
  pki.server_cert = dir + "/server.pem";
  pki.server_key = dir + "/server.key";
  pki.client_cert = dir + "/client.pem";
  pki.client_key = dir + "/client.key";
  pki.other_ca_cert = dir + "/other-ca.pem";
  const std::string ca_key = dir + "/ca.key";
  absl::Status status = MakeCa(pki.ca_cert, ca_key, "descent test CA");
  if (status.ok()) status = MakeCa(pki.other_ca_cert, dir + "/other-ca.key", "unrelated CA");
  if (status.ok()) {
    status = MakeLeaf(pki, ca_key, "localhost", pki.server_cert, pki.server_key,
                      "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                      "extendedKeyUsage=serverAuth\n");
  }
  if (status.ok()) {
    status = MakeLeaf(pki, ca_key, "descent test client", pki.client_cert, pki.client_key,
                      "extendedKeyUsage=clientAuth\n");
  }
  if (!status.ok()) return status;
  return pki;
}

}  // namespace descent::testing
