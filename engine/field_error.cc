#include "engine/field_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace descent {
namespace {

// The payload's type URL (absl::Status keys payloads by URL; nothing is fetched from it).
constexpr absl::string_view kFieldPayload = "type.descent.dev/descent.FieldPath";

}  // namespace

absl::Status FieldError(absl::StatusCode code, absl::string_view field, absl::string_view problem) {
  absl::Status status(code, absl::StrCat(field, problem));
  status.SetPayload(kFieldPayload, absl::Cord(field));
  return status;
}

std::optional<std::string> ErrorField(const absl::Status& status) {
  const auto field = status.GetPayload(kFieldPayload);  // absl::optional<absl::Cord>
  if (!field.has_value()) return std::nullopt;
  return std::string(*field);
}

}  // namespace descent
