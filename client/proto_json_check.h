// Checks a JSON tree against the shape protobuf's JSON mapping gives a message type, before
// protobuf's own parser sees the text, so a mistake in a job file is reported where it is and
// with its fix:
//   7:11: loss: "MSE" is not a loss; use one of MEAN_SQUARED_ERROR, BINARY_CROSS_ENTROPY, ...
//   4:7: model.hiddenLayer: unknown field; did you mean hiddenLayers?
// Field names are accepted in lowerCamelCase or snake_case, enum values by name or number,
// numbers also as strings, null as "unset": what protobuf's parser accepts.
#ifndef DESCENT_CLIENT_PROTO_JSON_CHECK_H_
#define DESCENT_CLIENT_PROTO_JSON_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "client/json_tree.h"
#include "google/protobuf/descriptor.h"

namespace descent::client {

// OK when `root` has `type`'s shape. Otherwise INVALID_ARGUMENT for the first mistake in file
// order: "LINE:COLUMN: PATH: what is wrong; the fix", PATH spelled as the file spells it
// (model.hiddenLayers[0].activation). Checked: unknown and repeated fields (naming the nearest
// valid name, else listing them), two members of one oneof, JSON kinds, enum names (listing
// the valid ones), whole numbers and their range. `root_name` names the top level in
// messages ("a job spec"). Fields of google.protobuf types and maps are left to protobuf.
absl::Status CheckJsonForMessage(const JsonValue& root, const google::protobuf::Descriptor& type,
                                 const std::string& root_name);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_PROTO_JSON_CHECK_H_
