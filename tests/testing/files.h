// Scratch files for tests: write one into the test's temp dir, read one back whole, or
// take a fresh directory for the test's duration.
#ifndef DESCENT_TESTS_TESTING_FILES_H_
#define DESCENT_TESTS_TESTING_FILES_H_

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace descent::testing {

// Writes `content` to a file named after `name` in the test's temp dir (unique to this
// process) and returns its path.
inline std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", getpid(), "-", name);
  std::ofstream(path) << content;
  return path;
}

// The whole file, or "" when it cannot be read.
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh empty directory in the test's temp dir, removed with everything in it on
// destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/", name, ".XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_FILES_H_
