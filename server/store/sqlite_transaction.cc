#include "server/store/sqlite_transaction.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace descent::server {

absl::Status SqliteWriteError(sqlite3* db, int code, const std::string& path) {
  const int primary = code & 0xff;
  const int os_error = sqlite3_system_errno(db);
  const std::string detail = sqlite3_errmsg(db);
  if (primary == SQLITE_FULL ||
      (primary == SQLITE_IOERR && (os_error == ENOSPC || os_error == EDQUOT || os_error == EFBIG))) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot write the job store ", path, ": no space left (", detail,
        os_error != 0 ? absl::StrCat(", ", std::strerror(os_error)) : std::string(),
        "); free space in the --data-dir volume"));
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return absl::UnavailableError(absl::StrCat(
        "the job store ", path, " is locked by another process (", detail,
        "); run one descentd per --data-dir"));
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot write the job store ", path, ": ", detail, " (sqlite error ", code,
      os_error != 0 ? absl::StrCat(", ", std::strerror(os_error)) : std::string(),
      "); the --data-dir volume may be full or failing"));
}

}  // namespace descent::server
