#include "client/input_files.h"

#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "client/json_tree.h"
#include "client/proto_json_check.h"
#include "google/protobuf/util/json_util.h"

namespace descent::client {

std::string InputName(const std::string& path) {
  return path == "-" ? "standard input" : path;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  if (path == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    if (std::cin.bad()) return absl::NotFoundError("cannot read standard input");
    return buffer.str();
  }
  return base::ReadFile(path);
}

absl::StatusOr<v1::JobSpec> ParseJobSpec(const std::string& json, const std::string& source) {
  // Our own pass first: protobuf's parser names no line or column and no valid enum values.
  absl::StatusOr<JsonValue> tree = ParseJsonTree(json);
  absl::Status checked = tree.ok()
                             ? CheckJsonForMessage(*tree, *v1::JobSpec::descriptor(), "a job spec")
                             : tree.status();
  if (!checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", checked.message()));
  }
  v1::JobSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &spec, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a valid job spec (", status.message().as_string(),
                     "); the fields are JobSpec's in proto/descent/v1/training.proto"));
  }
  return spec;
}

absl::StatusOr<v1::JobSpec> ReadJobSpec(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseJobSpec(text, InputName(path));
}

}  // namespace descent::client
