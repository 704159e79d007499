#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace descent::base {
namespace {

std::string Describe(absl::string_view what, absl::string_view path, absl::string_view reason) {
  return what.empty() ? absl::StrCat(path, ": ", reason)
                      : absl::StrCat(what, " ", path, ": ", reason);
}

// Closes the descriptor on every return path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::string> ReadFile(absl::string_view path, absl::string_view what) {
  const std::string name(path);
  const FileDescriptor fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", Describe(what, path, std::strerror(errno))));
  }
  struct stat info {};
  const bool stated = ::fstat(fd.get(), &info) == 0;
  if (stated && S_ISDIR(info.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", Describe(what, path, "it is a directory, not a file")));
  }
  std::string content;
  if (stated && S_ISREG(info.st_mode) && info.st_size > 0) {
    content.reserve(static_cast<size_t>(info.st_size));
  }
  char buffer[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof(buffer));
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(
          absl::StrCat("cannot read ", Describe(what, path, std::strerror(errno))));
    }
    content.append(buffer, static_cast<size_t>(got));
  }
  return content;
}

}  // namespace descent::base
