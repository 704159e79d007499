// Runs the real descentd binary for a test: 127.0.0.1 with port 0 (the kernel picks a free
// port and descentd names it in its start-up line), a fresh data dir, metrics on another
// ephemeral port. Stopped with SIGTERM (then SIGKILL) on destruction. StartWith runs it on a
// given data dir and listen address (a restart), optionally through a shell prefix (e.g. a
// ulimit).
#ifndef DESCENT_TESTS_INTEGRATION_DESCENTD_PROCESS_H_
#define DESCENT_TESTS_INTEGRATION_DESCENTD_PROCESS_H_

#include <signal.h>
#include <stdlib.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/descent_client.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {

class DescentdProcess {
 public:
  // Starts descentd and waits (bounded) until it reports its port and answers health
  // checks through a client with `client_options` (its TLS settings must match the flags).
  // Fails with the server's output when it does not come up.
  static absl::StatusOr<std::unique_ptr<DescentdProcess>> Start(
      std::vector<std::string> extra_flags = {}, client::ClientOptions client_options = {}) {
    return StartWith(NewDataDir(), "127.0.0.1:0", std::move(extra_flags), "",
                     std::move(client_options));
  }

  // A fresh, empty data dir no other server used. mkdtemp, not the process id: ids repeat
  // across test runs, and an earlier run's leftover dir would still hold its datasets and jobs.
  static std::string NewDataDir() {
    std::string path = absl::StrCat(::testing::TempDir(), "/descentd-XXXXXX");
    if (mkdtemp(path.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << path << " failed";
    return path;
  }

  // As Start, on `data_dir` and `listen`. `shell_prefix` non-empty: runs
  // `sh -c '<shell_prefix>; exec descentd ...'`.
  static absl::StatusOr<std::unique_ptr<DescentdProcess>> StartWith(
      const std::string& data_dir, const std::string& listen,
      std::vector<std::string> extra_flags = {}, const std::string& shell_prefix = "",
      client::ClientOptions client_options = {}) {
    std::vector<std::string> argv = {DESCENTD_PATH, "--listen",   listen,  "--metrics-listen",
                                     "127.0.0.1:0", "--data-dir", data_dir};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    if (!shell_prefix.empty()) {
      std::string command = absl::StrCat(shell_prefix, "; exec");
      for (const std::string& arg : argv) absl::StrAppend(&command, " '", arg, "'");
      argv = {"/bin/sh", "-c", command};
    }
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> process = testing::Subprocess::Start(argv);
    if (!process.ok()) return process.status();
    std::unique_ptr<DescentdProcess> server(
        new DescentdProcess(*std::move(process), std::move(client_options)));
    if (!server->process_->WaitForOutput("serving gRPC on", absl::Seconds(30), true)) {
      return absl::DeadlineExceededError(
          absl::StrCat("descentd did not start: ", server->process_->Stderr()));
    }
    // Wait for the whole line, then read the gRPC port from it.
    server->process_->WaitForOutput("queued jobs", absl::Seconds(5), true);
    std::smatch match;
    const std::string log = server->process_->Stderr();
    if (!std::regex_search(log, match, std::regex(R"(serving gRPC on \S+ \(port (\d+)\))"))) {
      return absl::InternalError(absl::StrCat("no port in descentd's start-up line: ", log));
    }
    server->port_ = std::stoi(match[1].str());
    if (std::regex_search(log, match, std::regex(R"(metrics on \S+ \(port (\d+)\))"))) {
      server->metrics_port_ = std::stoi(match[1].str());
    }
    auto client = server->NewClient();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!client->CheckHealth().ok()) {
      if (absl::Now() > deadline) return absl::DeadlineExceededError("descentd never healthy");
      absl::SleepFor(absl::Milliseconds(20));
    }
    return server;
  }

  ~DescentdProcess() {
    process_->Signal(SIGTERM);
    if (!process_->Wait(absl::Seconds(20)).ok()) process_->Signal(SIGKILL);
  }

  // SIGKILL, and waits for the process to be gone.
  void Kill() {
    process_->Signal(SIGKILL);
    (void)process_->Wait(absl::Seconds(20));
  }
  // SIGTERM; the exit code (DEADLINE_EXCEEDED if it did not stop within 20 s).
  absl::StatusOr<int> Stop() {
    process_->Signal(SIGTERM);
    return process_->Wait(absl::Seconds(20));
  }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  // The /metrics port; 0 when started with metrics off.
  int metrics_port() const { return metrics_port_; }
  std::unique_ptr<client::DescentClient> NewClient() const {
    return client::DescentClient::Connect(address(), client_options_);
  }
  testing::Subprocess& process() { return *process_; }

 private:
  DescentdProcess(std::unique_ptr<testing::Subprocess> process,
                  client::ClientOptions client_options)
      : process_(std::move(process)), client_options_(std::move(client_options)) {}

  std::unique_ptr<testing::Subprocess> process_;
  const client::ClientOptions client_options_;
  int port_ = 0;
  int metrics_port_ = 0;
};

// A fixture whose tests share one descentd (Start() defaults), started once per suite.
class SharedDescentdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<DescentdProcess>> started = DescentdProcess::Start();
    ASSERT_OK(started);
    server_ = *std::move(started);
  }
  static void TearDownTestSuite() { server_.reset(); }

  static inline std::unique_ptr<DescentdProcess> server_;
};

}  // namespace descent::integration

#endif  // DESCENT_TESTS_INTEGRATION_DESCENTD_PROCESS_H_
