#include "server/sweeps/parameter_paths.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace descent::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;

const FieldDescriptor* FieldNamed(const Descriptor* type, absl::string_view name) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (field->json_name() == name || field->name() == name) return field;
  }
  return nullptr;
}

// The oneofs declared in `type`, without the synthetic ones of proto3 `optional` fields.
std::vector<const OneofDescriptor*> RealOneofs(const Descriptor* type) {
  std::vector<const OneofDescriptor*> oneofs;
  for (int i = 0; i < type->oneof_decl_count(); ++i) {
    if (!type->oneof_decl(i)->is_synthetic()) oneofs.push_back(type->oneof_decl(i));
  }
  return oneofs;
}

// A oneof of `type` (not a proto3 `optional`'s synthetic one) each of whose members is a
// message with a field called `name`, of one and the same kind in every member.
const OneofDescriptor* OneofWhoseMembersHold(const Descriptor* type, absl::string_view name) {
  for (const OneofDescriptor* oneof : RealOneofs(type)) {
    bool every_member = oneof->field_count() > 0;
    const FieldDescriptor* first = nullptr;
    for (int j = 0; j < oneof->field_count() && every_member; ++j) {
      const Descriptor* member = oneof->field(j)->message_type();
      const FieldDescriptor* field = member == nullptr ? nullptr : FieldNamed(member, name);
      if (first == nullptr) first = field;
      every_member = field != nullptr && field->type() == first->type() &&
                     field->is_repeated() == first->is_repeated();
    }
    if (every_member) return oneof;
  }
  return nullptr;
}

// The one real oneof of `type`, or null when it has none or several.
const OneofDescriptor* OnlyOneof(const Descriptor* type) {
  const std::vector<const OneofDescriptor*> oneofs = RealOneofs(type);
  return oneofs.size() == 1 ? oneofs[0] : nullptr;
}

std::string FieldNames(const Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->json_name());
  return absl::StrJoin(names, ", ");
}

std::string TypeName(const FieldDescriptor* field) {
  std::string name = field->type() == FieldDescriptor::TYPE_MESSAGE
                         ? std::string(field->message_type()->name())
                     : field->type() == FieldDescriptor::TYPE_ENUM
                         ? std::string(field->enum_type()->name())
                         : std::string(field->type_name());
  return field->is_repeated() ? absl::StrCat("a list of ", name) : name;
}

bool IsFloat(const FieldDescriptor* field) {
  return !field->is_repeated() && (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE ||
                                   field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT);
}

bool IsInteger(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return !field->is_repeated();
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<ResolvedPath> ResolveParameterPath(absl::string_view path, absl::string_view where) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " is empty; name a JobSpec field as in a job file, e.g. optimizer.adam.learningRate"));
  }
  ResolvedPath resolved;
  const Descriptor* type = v1::JobSpec::descriptor();
  std::string walked = "JobSpec";
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
  for (size_t i = 0; i < segments.size(); ++i) {
    const absl::string_view segment = segments[i];
    const FieldDescriptor* field = FieldNamed(type, segment);
    if (field == nullptr) {
      if (const OneofDescriptor* oneof = OneofWhoseMembersHold(type, segment); oneof != nullptr) {
        field = FieldNamed(oneof->field(0)->message_type(), segment);
        resolved.through_oneof = true;
      }
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: \"%s\": %s has no field \"%s\"; its fields are %s", where, path, walked, segment,
          FieldNames(type)));
    }
    if (i == 0 && (field->name() == "group" || field->name() == "lr_find")) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: \"%s\" cannot be varied: %s", where, path,
          field->name() == "group" ? "the sweep sets every trial's group to its id"
                                   : "a sweep's trials are training runs, not range tests"));
    }
    const bool last = i + 1 == segments.size();
    if (!last && (field->message_type() == nullptr || field->is_repeated())) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: \"%s\": %s.%s is %s, which has no fields; end the path there", where, path,
          walked, std::string(field->json_name()), TypeName(field)));
    }
    walked = absl::StrCat(i == 0 ? "" : walked + ".", field->json_name());
    resolved.field = field;
    if (!last) type = field->message_type();
  }
  return resolved;
}

absl::Status CheckParameterDomain(const v1::SweepParameter& parameter, absl::string_view where) {
  ASSIGN_OR_RETURN(const ResolvedPath resolved,
                   ResolveParameterPath(parameter.path(), absl::StrCat(where, ".path")));
  const FieldDescriptor* field = resolved.field;
  switch (parameter.domain_case()) {
    case v1::SweepParameter::kValues:
      if (parameter.values().values().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".values is empty; give at least one value"));
      }
      return absl::OkStatus();
    case v1::SweepParameter::kUniform:
    case v1::SweepParameter::kLogUniform: {
      const bool log = parameter.has_log_uniform();
      const char* name = log ? "logUniform" : "uniform";
      if (!IsFloat(field)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s.%s needs a float or double field, and %s is %s; use %s", where, name,
            parameter.path(), TypeName(field), IsInteger(field) ? "intRange" : "values"));
      }
      const v1::Range& range = log ? parameter.log_uniform() : parameter.uniform();
      if (!std::isfinite(range.min()) || !std::isfinite(range.max()) ||
          !(range.min() < range.max()) || (log && !(range.min() > 0))) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s.%s must have %smin < max, both finite (got min %g, max %g)", where, name,
            log ? "0 < " : "", range.min(), range.max()));
      }
      return absl::OkStatus();
    }
    case v1::SweepParameter::kIntRange: {
      if (!IsInteger(field)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s.intRange needs an integer field, and %s is %s; use %s", where, parameter.path(),
            TypeName(field), IsFloat(field) ? "uniform or logUniform" : "values"));
      }
      const v1::IntRange& range = parameter.int_range();
      if (range.step() < 0 || range.min() > range.max()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s.intRange must have min <= max and step >= 0 (got min %d, max %d, step %d)",
            where, range.min(), range.max(), range.step()));
      }
      return absl::OkStatus();
    }
    case v1::SweepParameter::DOMAIN_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      where, " has no domain; give values, uniform, logUniform or intRange"));
}

namespace {

// The field `segment` names in `*message`, and the message that holds it: `*message` itself,
// or its chosen oneof member when the segment is a field of every member.
absl::StatusOr<std::pair<Message*, const FieldDescriptor*>> FieldOf(Message* message,
                                                                    absl::string_view segment,
                                                                    absl::string_view path) {
  const Descriptor* type = message->GetDescriptor();
  if (const FieldDescriptor* field = FieldNamed(type, segment); field != nullptr) {
    return std::make_pair(message, field);
  }
  const OneofDescriptor* oneof = OneofWhoseMembersHold(type, segment);
  if (oneof == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\": %s has no field \"%s\"", path, std::string(type->name()), segment));
  }
  const FieldDescriptor* chosen =
      message->GetReflection()->GetOneofFieldDescriptor(*message, oneof);
  if (chosen == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "\"%s\": no %s is chosen to set %s of; choose one in the base spec or with a parameter "
        "before this one",
        path, std::string(oneof->name()), segment));
  }
  Message* member = message->GetReflection()->MutableMessage(message, chosen);
  return std::make_pair(member, FieldNamed(member->GetDescriptor(), segment));
}

// `value` names a member of the only oneof of `field`'s message type.
const FieldDescriptor* NamedMember(const FieldDescriptor* field,
                                   const google::protobuf::Value& value) {
  if (field->message_type() == nullptr || field->is_repeated() ||
      value.kind_case() != google::protobuf::Value::kStringValue) {
    return nullptr;
  }
  const OneofDescriptor* oneof = OnlyOneof(field->message_type());
  if (oneof == nullptr) return nullptr;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const FieldDescriptor* member = oneof->field(i);
    if (member->message_type() != nullptr &&
        (member->json_name() == value.string_value() || member->name() == value.string_value())) {
      return member;
    }
  }
  return nullptr;
}

}  // namespace

absl::Status SetParameter(absl::string_view path, const google::protobuf::Value& value,
                          v1::JobSpec* spec) {
  Message* message = spec;
  const FieldDescriptor* field = nullptr;
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
  for (size_t i = 0; i < segments.size(); ++i) {
    ASSIGN_OR_RETURN(auto holder, FieldOf(message, segments[i], path));
    message = holder.first;
    field = holder.second;
    if (i + 1 < segments.size()) message = message->GetReflection()->MutableMessage(message, field);
  }
  const google::protobuf::Reflection* reflection = message->GetReflection();
  if (const FieldDescriptor* member = NamedMember(field, value); member != nullptr) {
    Message* chooser = reflection->MutableMessage(message, field);
    if (!chooser->GetReflection()->HasField(*chooser, member)) {
      chooser->Clear();
      chooser->GetReflection()->MutableMessage(chooser, member);
    }
    return absl::OkStatus();
  }
  // Anything else is read as the job file would read it: {"<field>": value}.
  const std::string json = absl::StrCat("{\"", field->json_name(), "\":", ValueText(value), "}");
  std::unique_ptr<Message> parsed(message->New());
  if (const auto status = google::protobuf::util::JsonStringToMessage(json, parsed.get());
      !status.ok()) {
    std::string fix;
    if (field->message_type() != nullptr && OnlyOneof(field->message_type()) != nullptr) {
      const OneofDescriptor* oneof = OnlyOneof(field->message_type());
      std::vector<std::string> names;
      for (int i = 0; i < oneof->field_count(); ++i) names.push_back(oneof->field(i)->json_name());
      fix = absl::StrCat("; name one of ", absl::StrJoin(names, ", "), " or give an object");
    }
    return absl::InvalidArgumentError(absl::StrFormat(
        "\"%s\": %s does not fit a field of type %s (%s)%s", path, ValueText(value),
        TypeName(field), std::string(status.message()), fix));
  }
  reflection->ClearField(message, field);
  message->MergeFrom(*parsed);
  return absl::OkStatus();
}

std::string ValueText(const google::protobuf::Value& value) {
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(value, &text).ok()) return "null";
  return text;
}

}  // namespace descent::server
