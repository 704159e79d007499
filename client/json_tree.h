// A JSON document with the line and column of every value and object key, so the CLI can
// say where in a job file a mistake is (protobuf's JSON parser reports no position).
// RFC 8259 JSON; numbers are kept as their literal text.
#ifndef DESCENT_CLIENT_JSON_TREE_H_
#define DESCENT_CLIENT_JSON_TREE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace descent::client {

// 1-based. Columns count characters (UTF-8 sequences), as editors show them.
struct JsonPosition {
  int line = 1;
  int column = 1;
};

struct JsonMember;

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind = Kind::kNull;
  JsonPosition position;  // of the value's first character
  // kString: the decoded text; kNumber: the literal as written; kBool: "true" or "false".
  std::string text;
  std::vector<JsonValue> items;     // kArray
  std::vector<JsonMember> members;  // kObject, in file order (duplicates kept)
};

struct JsonMember {
  std::string key;
  JsonPosition key_position;
  JsonValue value;
};

// "a number", "an object", ... for messages.
absl::string_view KindName(JsonValue::Kind kind);

// Parses one JSON value (surrounded by optional whitespace). INVALID_ARGUMENT for malformed
// text, with a message that starts "LINE:COLUMN: " and says what was expected there; nesting
// deeper than 128 levels is refused the same way.
absl::StatusOr<JsonValue> ParseJsonTree(absl::string_view text);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_JSON_TREE_H_
