// Reading a whole file, the one way engine, server and client do it.
#ifndef DESCENT_BASE_FILES_H_
#define DESCENT_BASE_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace descent::base {

// The bytes of the file at `path`, exactly as stored. `what` names where the path came from in
// messages (a flag such as "--tls-ca"; empty for none), so the user knows which setting to fix.
// NOT_FOUND "cannot open [what ]path: reason" when it cannot be opened or is a directory;
// DATA_LOSS "cannot read [what ]path: reason" when reading fails after it opened.
absl::StatusOr<std::string> ReadFile(absl::string_view path, absl::string_view what = "");

}  // namespace descent::base

#endif  // DESCENT_BASE_FILES_H_
