// Helpers for integration tests that drive the real descent CLI: scratch files for specs and
// inputs (tests/testing/files.h), and one CLI run against a server with a clean environment.
#ifndef DESCENT_TESTS_INTEGRATION_CLI_RUNNER_H_
#define DESCENT_TESTS_INTEGRATION_CLI_RUNNER_H_

#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {

using testing::ReadWholeFile;
using testing::WriteTempFile;

// Options for a process that runs the CLI: the DESCENT_* connection variables unset (so the
// test's own environment cannot redirect it or change its TLS and token) except those in `env`.
inline testing::ProcessOptions CliProcessOptions(
    std::vector<std::pair<std::string, std::string>> env = {}) {
  testing::ProcessOptions options;
  options.unset_env = {"DESCENT_SERVER",         "DESCENT_TOKEN",    "DESCENT_TOKEN_FILE",
                       "DESCENT_TLS_CA",         "DESCENT_TLS_CERT", "DESCENT_TLS_KEY",
                       "DESCENT_TLS_SERVER_NAME"};
  options.env = std::move(env);
  return options;
}

// Runs `descent args...` with CliProcessOptions(env), bounded by `timeout`, reading
// `stdin_file` as standard input ("" = none). A run that cannot be started or does not end in
// time fails the test and returns an empty result.
inline testing::ProcessResult RunDescent(
    std::vector<std::string> args, absl::Duration timeout,
    std::vector<std::pair<std::string, std::string>> env = {}, std::string stdin_file = "") {
  std::vector<std::string> argv = {DESCENT_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ProcessOptions options = CliProcessOptions(std::move(env));
  options.stdin_file = std::move(stdin_file);
  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(argv, timeout, options);
  EXPECT_OK(result);
  return result.ok() ? *result : testing::ProcessResult{};
}

// Runs `descent --server <address> args...` as RunDescent does.
inline testing::ProcessResult RunCli(const std::string& address, std::vector<std::string> args,
                                     absl::Duration timeout,
                                     std::vector<std::pair<std::string, std::string>> env = {},
                                     std::string stdin_file = "") {
  args.insert(args.begin(), {"--server", address});
  return RunDescent(std::move(args), timeout, std::move(env), std::move(stdin_file));
}

}  // namespace descent::integration

#endif  // DESCENT_TESTS_INTEGRATION_CLI_RUNNER_H_
