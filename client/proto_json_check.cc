#include "client/proto_json_check.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "client/nearest_name.h"

namespace descent::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::OneofDescriptor;
using Kind = JsonValue::Kind;

absl::Status ErrorAt(JsonPosition at, const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(at.line, ":", at.column, ": ", path, path.empty() ? "" : ": ", what));
}

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

// "Loss" -> "a loss", "Activation" -> "an activation", "JobState" -> "a job state".
std::string EnumNoun(const EnumDescriptor& type) {
  std::string words;
  for (char c : type.name()) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !words.empty()) words += ' ';
    words += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  const bool vowel = !words.empty() && absl::StrContains("aeiou", words[0]);
  return absl::StrCat(vowel ? "an " : "a ", words);
}

// The values a user chooses from: all but the zero "..._UNSPECIFIED" placeholder.
std::vector<std::string> EnumChoices(const EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) {
    const EnumValueDescriptor& value = *type.value(i);
    if (value.number() == 0 && absl::EndsWith(value.name(), "_UNSPECIFIED")) continue;
    names.push_back(value.name());
  }
  return names;
}

bool IsInteger(FieldDescriptor::CppType type) {
  return type == FieldDescriptor::CPPTYPE_INT32 || type == FieldDescriptor::CPPTYPE_INT64 ||
         type == FieldDescriptor::CPPTYPE_UINT32 || type == FieldDescriptor::CPPTYPE_UINT64;
}

// A whole number in the range of `type`, written as a JSON number or a string of one.
absl::Status CheckInteger(const JsonValue& value, FieldDescriptor::CppType type,
                          const std::string& path) {
  const std::string& literal = value.text;
  const bool is_unsigned =
      type == FieldDescriptor::CPPTYPE_UINT32 || type == FieldDescriptor::CPPTYPE_UINT64;
  const bool is_64 =
      type == FieldDescriptor::CPPTYPE_INT64 || type == FieldDescriptor::CPPTYPE_UINT64;
  double number = 0;
  if (!absl::SimpleAtod(literal, &number) || !std::isfinite(number)) {
    return ErrorAt(value.position, path,
                   absl::StrCat("expected a whole number, found \"", literal, "\""));
  }
  if (std::floor(number) != number) {
    return ErrorAt(value.position, path, absl::StrCat(literal, " is not a whole number"));
  }
  if (is_unsigned && number < 0) {
    return ErrorAt(value.position, path, absl::StrCat(literal, " must be >= 0"));
  }
  // Exact range checks on plain integer literals; doubles are exact well past 2^53 only
  // for the 32-bit types, where the bound is small.
  bool in_range = true;
  if (!is_64) {
    in_range = is_unsigned ? number <= std::numeric_limits<uint32_t>::max()
                           : number >= std::numeric_limits<int32_t>::min() &&
                                 number <= std::numeric_limits<int32_t>::max();
  } else if (literal.find_first_of(".eE") == std::string::npos) {
    int64_t signed_value;
    uint64_t unsigned_value;
    in_range = is_unsigned ? absl::SimpleAtoi(literal, &unsigned_value)
                           : absl::SimpleAtoi(literal, &signed_value);
  } else {
    in_range = is_unsigned ? number < 18446744073709551616.0
                           : number >= -9223372036854775808.0 && number < 9223372036854775808.0;
  }
  if (!in_range) {
    return ErrorAt(
        value.position, path,
        absl::StrCat(literal, " is out of range for a ", is_unsigned ? "non-negative " : "",
                     is_64 ? "64" : "32", "-bit integer"));
  }
  return absl::OkStatus();
}

absl::Status CheckFloat(const JsonValue& value, FieldDescriptor::CppType type,
                        const std::string& path) {
  const std::string& literal = value.text;
  if (value.kind == Kind::kString &&
      (literal == "NaN" || literal == "Infinity" || literal == "-Infinity")) {
    return absl::OkStatus();
  }
  double number = 0;
  if (!absl::SimpleAtod(literal, &number) ||
      (value.kind == Kind::kString && !std::isfinite(number))) {
    return ErrorAt(value.position, path,
                   absl::StrCat("expected a number, found \"", literal, "\""));
  }
  const double max = type == FieldDescriptor::CPPTYPE_FLOAT ? FLT_MAX : DBL_MAX;
  if (!std::isfinite(number) || std::fabs(number) > max) {
    return ErrorAt(
        value.position, path,
        absl::StrCat(literal, " is out of range for a ",
                     type == FieldDescriptor::CPPTYPE_FLOAT ? "32-bit float" : "64-bit float"));
  }
  return absl::OkStatus();
}

absl::Status CheckEnum(const JsonValue& value, const EnumDescriptor& type,
                       const std::string& path) {
  if (value.kind == Kind::kNumber) {
    return CheckInteger(value, FieldDescriptor::CPPTYPE_INT32, path);  // protobuf takes numbers
  }
  const std::vector<std::string> choices = EnumChoices(type);
  if (value.kind == Kind::kString) {
    if (type.FindValueByName(value.text) != nullptr) return absl::OkStatus();
    const std::string nearest = NearestName(value.text, choices);
    return ErrorAt(
        value.position, path,
        absl::StrCat("\"", value.text, "\" is not ", EnumNoun(type),
                     nearest.empty() ? "" : absl::StrCat(" (did you mean ", nearest, "?)"),
                     "; use one of ", absl::StrJoin(choices, ", ")));
  }
  return ErrorAt(value.position, path,
                 absl::StrCat("expected ", EnumNoun(type), " name in quotes, found ",
                              KindName(value.kind), "; use one of ", absl::StrJoin(choices, ", ")));
}

// The field a JSON key names: its lowerCamelCase JSON name or its proto name.
const FieldDescriptor* FindField(const Descriptor& type, const std::string& key) {
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) return type.field(i);
  }
  return type.FindFieldByName(key);
}

class Checker {
 public:
  explicit Checker(const std::string& root_name) : root_name_(root_name) {}

  absl::Status Message(const JsonValue& value, const Descriptor& type, const std::string& path) {
    if (value.kind != Kind::kObject) {
      return ErrorAt(value.position, path.empty() ? root_name_ : path,
                     absl::StrCat("expected an object {...}, found ", KindName(value.kind)));
    }
    std::map<const FieldDescriptor*, const JsonMember*> seen;
    std::map<const OneofDescriptor*, const JsonMember*> oneofs_seen;
    for (const JsonMember& member : value.members) {
      const std::string member_path = Child(path, member.key);
      const FieldDescriptor* field = FindField(type, member.key);
      if (field == nullptr) return UnknownField(member, type, path);
      if (auto [it, inserted] = seen.emplace(field, &member); !inserted) {
        return ErrorAt(
            member.key_position, member_path,
            absl::StrCat("set twice (also on line ", it->second->key_position.line, "); keep one"));
      }
      const OneofDescriptor* oneof = field->real_containing_oneof();
      if (oneof != nullptr && member.value.kind != Kind::kNull) {
        if (auto [it, inserted] = oneofs_seen.emplace(oneof, &member); !inserted) {
          std::vector<std::string> names;
          for (int i = 0; i < oneof->field_count(); ++i)
            names.push_back(oneof->field(i)->json_name());
          return ErrorAt(member.key_position, member_path,
                         absl::StrCat("only one of ", absl::StrJoin(names, ", "),
                                      " can be set, and ", it->second->key, " is set on line ",
                                      it->second->key_position.line, "; keep one"));
        }
      }
      RETURN_IF_ERROR(Field(member.value, *field, member_path));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status UnknownField(const JsonMember& member, const Descriptor& type,
                            const std::string& parent) {
    // Suggest in the spelling the file uses: snake_case keys get snake_case names.
    const bool snake = absl::StrContains(member.key, '_');
    std::vector<std::string> names;
    for (int i = 0; i < type.field_count(); ++i) {
      names.push_back(snake ? type.field(i)->name() : type.field(i)->json_name());
    }
    const std::string nearest = NearestName(member.key, names);
    const std::string fix =
        !nearest.empty() ? absl::StrCat("did you mean ", nearest, "?")
                         : absl::StrCat("the fields of ", parent.empty() ? root_name_ : parent,
                                        " are ", absl::StrJoin(names, ", "));
    return ErrorAt(member.key_position, Child(parent, member.key),
                   absl::StrCat("unknown field; ", fix));
  }

  absl::Status Field(const JsonValue& value, const FieldDescriptor& field,
                     const std::string& path) {
    if (value.kind == Kind::kNull) return absl::OkStatus();  // unset
    if (field.is_map()) return absl::OkStatus();
    if (field.is_repeated()) {
      if (value.kind != Kind::kArray) {
        return ErrorAt(value.position, path,
                       absl::StrCat("expected a list [...], found ", KindName(value.kind)));
      }
      for (size_t i = 0; i < value.items.size(); ++i) {
        const std::string item_path = absl::StrCat(path, "[", i, "]");
        if (value.items[i].kind == Kind::kNull) {
          return ErrorAt(value.items[i].position, item_path, "a list element cannot be null");
        }
        RETURN_IF_ERROR(Singular(value.items[i], field, item_path));
      }
      return absl::OkStatus();
    }
    return Singular(value, field, path);
  }

  absl::Status Singular(const JsonValue& value, const FieldDescriptor& field,
                        const std::string& path) {
    const FieldDescriptor::CppType type = field.cpp_type();
    switch (type) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        // Well-known types (Timestamp, Struct, ...) have JSON forms of their own.
        if (absl::StartsWith(field.message_type()->full_name(), "google.protobuf.")) {
          return absl::OkStatus();
        }
        return Message(value, *field.message_type(), path);
      case FieldDescriptor::CPPTYPE_ENUM:
        return CheckEnum(value, *field.enum_type(), path);
      case FieldDescriptor::CPPTYPE_STRING:
        if (value.kind == Kind::kString) return absl::OkStatus();
        return ErrorAt(
            value.position, path,
            absl::StrCat("expected a string in double quotes, found ", KindName(value.kind)));
      case FieldDescriptor::CPPTYPE_BOOL:
        if (value.kind == Kind::kBool) return absl::OkStatus();
        return ErrorAt(value.position, path,
                       absl::StrCat("expected true or false, found ", KindName(value.kind)));
      default:
        break;
    }
    if (value.kind != Kind::kNumber && value.kind != Kind::kString) {
      return ErrorAt(value.position, path,
                     absl::StrCat("expected a number, found ", KindName(value.kind)));
    }
    return IsInteger(type) ? CheckInteger(value, type, path) : CheckFloat(value, type, path);
  }

  const std::string& root_name_;
};

}  // namespace

absl::Status CheckJsonForMessage(const JsonValue& root, const Descriptor& type,
                                 const std::string& root_name) {
  return Checker(root_name).Message(root, type, "");
}

}  // namespace descent::client
