// "Did you mean ...?" for a mistyped name: a command, a job file's field, an enum value.
#ifndef DESCENT_CLIENT_NEAREST_NAME_H_
#define DESCENT_CLIENT_NEAREST_NAME_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace descent::client {

// Edits (insert, delete, substitute, swap two neighbours) between a and b, ignoring case and
// '_': "sumbit" is 1 from "submit", "hidden_layer" 1 from "hiddenLayers".
int NameDistance(absl::string_view a, absl::string_view b);

// The candidate closest to `typed` if it is close enough to be what the user meant (at most
// one edit per three characters, at least one; or `typed` of 3+ characters is a prefix of
// it), else "". The first of equally close candidates wins. Words over 64 characters get "".
std::string NearestName(absl::string_view typed, const std::vector<std::string>& candidates);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_NEAREST_NAME_H_
