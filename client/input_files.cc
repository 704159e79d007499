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

namespace {

// `json` into `message`, checked by our own pass first: protobuf's parser names no line or
// column and no valid enum values. `root_name` ("a job spec") and `documented` (where its
// fields are described) go into the messages.
absl::Status ParseCheckedJson(const std::string& json, const std::string& source,
                              const std::string& root_name, const std::string& documented,
                              google::protobuf::Message* message) {
  absl::StatusOr<JsonValue> tree = ParseJsonTree(json);
  absl::Status checked = tree.ok()
                             ? CheckJsonForMessage(*tree, *message->GetDescriptor(), root_name)
                             : tree.status();
  if (!checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", checked.message()));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a valid ", root_name.substr(2),
                                                   " (", status.message().as_string(),
                                                   "); the fields are ", documented));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseJobSpec(const std::string& json, const std::string& source) {
  v1::JobSpec spec;
  RETURN_IF_ERROR(ParseCheckedJson(json, source, "a job spec",
                                   "JobSpec's in proto/descent/v1/training.proto", &spec));
  return spec;
}

absl::StatusOr<v1::SweepSpec> ReadSweepSpec(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  v1::SweepSpec spec;
  RETURN_IF_ERROR(ParseCheckedJson(text, InputName(path), "a sweep spec",
                                   "SweepSpec's in proto/descent/v1/sweeps.proto", &spec));
  return spec;
}

absl::StatusOr<v1::JobSpec> ReadJobSpec(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseJobSpec(text, InputName(path));
}

}  // namespace descent::client
