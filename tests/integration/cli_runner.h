// Helpers for integration tests that drive the real descent CLI: scratch files for specs and
// inputs, and one CLI run against a server with a clean environment.
#ifndef DESCENT_TESTS_INTEGRATION_CLI_RUNNER_H_
#define DESCENT_TESTS_INTEGRATION_CLI_RUNNER_H_

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {

// Writes `content` to a file named after `name` in the test's temp dir (unique to this
// process) and returns its path.
inline std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", getpid(), "-", name);
  std::ofstream(path) << content;
  return path;
}

// The whole file, or "" when it cannot be read.
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `descent --server <address> args...` with DESCENT_SERVER unset (so the test's own
// environment cannot redirect it), bounded by `timeout`. A run that cannot be started or
// does not end in time fails the test and returns an empty result.
inline testing::ProcessResult RunCli(const std::string& address, std::vector<std::string> args,
                                     absl::Duration timeout) {
  std::vector<std::string> argv = {DESCENT_CLI_PATH, "--server", address};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ProcessOptions options;
  options.unset_env = {"DESCENT_SERVER"};
  absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(argv, timeout, options);
  EXPECT_OK(result);
  return result.ok() ? *result : testing::ProcessResult{};
}

}  // namespace descent::integration

#endif  // DESCENT_TESTS_INTEGRATION_CLI_RUNNER_H_
