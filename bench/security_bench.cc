// Cost of TLS and bearer tokens on descentd's calls: an in-process Server on 127.0.0.1 and a
// DescentClient, per transport: plaintext, TLS, mutual TLS, and TLS with 1 and 1000 accepted
// bearer tokens (the check hashes the presented token once and compares it with every
// accepted digest). For each: the first call on a new channel (connection set-up, including
// the TLS handshake) and the median and p90 of `--calls` sequential ListJobs calls on an
// empty server (the cheapest authenticated call, so the overhead is as visible as it gets),
// over `--repeats` rounds that take every transport in turn (medians over the rounds).
//
// Prints JSON lines:
//   {"bench":"security","transport":"tls+1000 tokens","first_call_ms":..,"median_us":..,
//    "p90_us":..}
// Usage: security_bench [--calls=500] [--repeats=20]  (needs the openssl command for the
// throwaway certificates). A benchmark, not a test: ctest never runs it.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/descent_client.h"
#include "server/server.h"
#include "tests/testing/files.h"
#include "tests/testing/test_pki.h"

namespace descent {
namespace {

using Clock = std::chrono::steady_clock;

struct Transport {
  std::string name;
  bool tls = false;
  bool mutual = false;
  int tokens = 0;  // accepted tokens; 0 = no authentication
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// One transport's server and what was measured through it.
struct Setup {
  Transport transport;
  client::ClientOptions client_options;
  std::unique_ptr<server::Server> server;
  std::vector<double> first_call_ms, latencies_us;
};

absl::Status Start(const testing::TestPki& pki, Setup& setup) {
  const Transport& transport = setup.transport;
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";
  options.jobs.workers = 1;
  if (transport.tls) {
    options.tls = server::ServerTls{testing::ReadWholeFile(pki.server_cert),
                                    testing::ReadWholeFile(pki.server_key),
                                    transport.mutual ? testing::ReadWholeFile(pki.ca_cert) : ""};
    setup.client_options.channel.tls_ca_pem = testing::ReadWholeFile(pki.ca_cert);
    if (transport.mutual) {
      setup.client_options.channel.tls_cert_pem = testing::ReadWholeFile(pki.client_cert);
      setup.client_options.channel.tls_key_pem = testing::ReadWholeFile(pki.client_key);
    }
  }
  if (transport.tokens > 0) {
    std::vector<std::string> tokens;
    for (int i = 0; i < transport.tokens; ++i) tokens.push_back(absl::StrCat("token-", i, "-x"));
    options.bearer_tokens = tokens;
    setup.client_options.channel.bearer_token = tokens.back();
  }
  absl::StatusOr<std::unique_ptr<server::Server>> server = server::Server::Start(options);
  if (!server.ok()) return server.status();
  setup.server = *std::move(server);
  return absl::OkStatus();
}

// A new channel: its first call (set-up and handshake), then `calls` calls.
absl::Status Measure(Setup& setup, int calls) {
  auto client = client::DescentClient::Connect(setup.server->address(), setup.client_options);
  const Clock::time_point start = Clock::now();
  absl::Status status = client->ListJobs(v1::JOB_STATE_UNSPECIFIED, 10, "").status();
  if (!status.ok()) return status;
  setup.first_call_ms.push_back(Micros(Clock::now() - start) / 1000);
  for (int i = 0; i < calls; ++i) {
    const Clock::time_point call = Clock::now();
    status = client->ListJobs(v1::JOB_STATE_UNSPECIFIED, 10, "").status();
    if (!status.ok()) return status;
    setup.latencies_us.push_back(Micros(Clock::now() - call));
  }
  return absl::OkStatus();
}

double Quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(q * static_cast<double>(values.size() - 1))];
}

int Main(int argc, char** argv) {
  int calls = 500, repeats = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--calls=", 0) == 0) {
      calls = std::max(1, std::atoi(argv[i] + 8));
    } else if (arg.rfind("--repeats=", 0) == 0) {
      repeats = std::max(1, std::atoi(argv[i] + 10));
    } else {
      std::fprintf(stderr, "usage: security_bench [--calls=500] [--repeats=20]\n");
      return 2;
    }
  }
  absl::StatusOr<testing::TestPki> pki =
      testing::MakeTestPki(absl::StrCat("/tmp/descent-security-bench-", getpid()));
  if (!pki.ok()) {
    std::fprintf(stderr, "security_bench: %s\n", std::string(pki.status().message()).c_str());
    return 1;
  }
  const std::vector<Transport> transports = {
      {"plaintext", false, false, 0},  {"plaintext+1 token", false, false, 1},
      {"tls", true, false, 0},         {"mutual tls", true, true, 0},
      {"tls+1 token", true, false, 1}, {"tls+1000 tokens", true, false, 1000}};
  std::vector<Setup> setups(transports.size());
  for (size_t i = 0; i < transports.size(); ++i) {
    setups[i].transport = transports[i];
    if (absl::Status started = Start(*pki, setups[i]); !started.ok()) {
      std::fprintf(stderr, "security_bench: %s\n", std::string(started.message()).c_str());
      return 1;
    }
  }
  // Rounds of every transport in turn, so a busy moment of the machine is spread over all.
  for (int r = 0; r < repeats; ++r) {
    for (Setup& setup : setups) {
      if (absl::Status measured = Measure(setup, calls); !measured.ok()) {
        std::fprintf(stderr, "security_bench: %s: %s\n", setup.transport.name.c_str(),
                     std::string(measured.message()).c_str());
        return 1;
      }
    }
  }
  for (const Setup& setup : setups) {
    std::printf(
        "{\"bench\":\"security\",\"transport\":\"%s\",\"first_call_ms\":%.2f,"
        "\"median_us\":%.1f,\"p90_us\":%.1f}\n",
        setup.transport.name.c_str(), Quantile(setup.first_call_ms, 0.5),
        Quantile(setup.latencies_us, 0.5), Quantile(setup.latencies_us, 0.9));
  }
  return 0;
}

}  // namespace
}  // namespace descent

int main(int argc, char** argv) { return descent::Main(argc, argv); }
