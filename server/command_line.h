// descentd's command line: `--name=value` or `--name value` for a fixed list of absl flags,
// spelled with dashes (--heartbeat-interval) or underscores (--heartbeat_interval), and
// nothing else. Unlike absl::ParseCommandLine, an error quotes the argument exactly as it
// was typed and says what the flag expects:
//   --heartbeat-interval=5: expected a duration with a unit, e.g. 5s, 500ms or 2m
#ifndef DESCENT_SERVER_COMMAND_LINE_H_
#define DESCENT_SERVER_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace descent::server {

// Sets the flags named in `args` (argv without the program name). `flag_names` are the absl
// names (underscores) that may be set; every one must be defined. INVALID_ARGUMENT, with a
// message for the user, for an unknown flag (suggesting the nearest known one), a flag
// without its value, a value the flag cannot parse, or an argument that is not a flag.
// Flags before the error keep the values they were given.
absl::Status ParseFlags(const std::vector<std::string>& args,
                        absl::Span<const char* const> flag_names);

// The form a flag's values take, for messages: "a duration with a unit, e.g. 5s, 500ms or
// 2m", "a whole number, e.g. 1000", ...; empty for a string flag (any value will do).
std::string ExpectedForm(const std::string& flag_name);

}  // namespace descent::server

#endif  // DESCENT_SERVER_COMMAND_LINE_H_
