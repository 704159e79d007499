#include "client/json_tree.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace descent::client {
namespace {

constexpr int kMaxDepth = 128;

// A recursive-descent parser over the text that tracks the line and column of its cursor.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> Document() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") offset_ = 3;  // a UTF-8 byte order mark
    SkipWhitespace();
    JsonValue value;
    if (!Value(value, 0)) return error_;
    SkipWhitespace();
    if (!AtEnd()) {
      Fail("unexpected text after the JSON value");
      return error_;
    }
    return value;
  }

 private:
  bool AtEnd() const { return offset_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[offset_]; }

  void Advance() {
    const char c = text_[offset_++];
    if (c == '\n') {
      ++position_.line;
      position_.column = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++position_.column;  // a UTF-8 continuation byte belongs to the previous column
    }
  }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      Advance();
    }
  }

  // Records the first error at the cursor; always returns false.
  bool Fail(absl::string_view what) { return FailAt(position_, what); }
  bool FailAt(JsonPosition at, absl::string_view what) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(absl::StrCat(at.line, ":", at.column, ": ", what));
    }
    return false;
  }

  // What the cursor is at, for "expected X, found Y".
  std::string Found() const {
    if (AtEnd()) return "the end of the file";
    const unsigned char c = static_cast<unsigned char>(Peek());
    if (c < 0x20 || c >= 0x7F) return absl::StrFormat("byte 0x%02X", c);
    return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
  }

  bool Value(JsonValue& value, int depth) {
    if (depth > kMaxDepth) return Fail("nested deeper than 128 levels");
    value.position = position_;
    switch (Peek()) {
      case '{':
        return Object(value, depth);
      case '[':
        return Array(value, depth);
      case '"':
        value.kind = JsonValue::Kind::kString;
        return String(value.text);
      case 't':
        value.kind = JsonValue::Kind::kBool;
        return Literal("true", value.text);
      case 'f':
        value.kind = JsonValue::Kind::kBool;
        return Literal("false", value.text);
      case 'n':
        value.kind = JsonValue::Kind::kNull;
        return Literal("null", value.text);
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) {
          value.kind = JsonValue::Kind::kNumber;
          return Number(value.text);
        }
        return Fail(absl::StrCat("expected a value, found ", Found(),
                                 Peek() == '\'' ? " (JSON strings take double quotes)" : ""));
    }
  }

  bool Literal(absl::string_view word, std::string& out) {
    const JsonPosition start = position_;
    if (text_.substr(offset_, word.size()) != word) {
      return FailAt(start, "expected a value (a string needs double quotes)");
    }
    for (size_t i = 0; i < word.size(); ++i) Advance();
    out = std::string(word);
    return true;
  }

  bool Digits() {
    if (!(Peek() >= '0' && Peek() <= '9'))
      return Fail(absl::StrCat("expected a digit, found ", Found()));
    while (Peek() >= '0' && Peek() <= '9') Advance();
    return true;
  }

  bool Number(std::string& out) {
    const size_t begin = offset_;
    if (Peek() == '-') Advance();
    if (Peek() == '0') {
      Advance();
      if (Peek() >= '0' && Peek() <= '9') return Fail("a number cannot have a leading zero");
    } else if (!Digits()) {
      return false;
    }
    if (Peek() == '.') {
      Advance();
      if (!Digits()) return false;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      Advance();
      if (Peek() == '+' || Peek() == '-') Advance();
      if (!Digits()) return false;
    }
    out = std::string(text_.substr(begin, offset_ - begin));
    return true;
  }

  // Four hex digits of a \u escape.
  bool Hex4(uint32_t& code) {
    code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = Peek();
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return Fail("expected four hex digits after \\u");
      }
      code = code * 16 + static_cast<uint32_t>(digit);
      Advance();
    }
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string& out) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  bool Escape(std::string& out) {
    const JsonPosition start = position_;
    Advance();  // the backslash
    const char c = Peek();
    if (AtEnd()) return Fail("unterminated string");
    Advance();
    switch (c) {
      case '"':
        out += '"';
        return true;
      case '\\':
        out += '\\';
        return true;
      case '/':
        out += '/';
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u': {
        uint32_t code;
        if (!Hex4(code)) return false;
        if (code >= 0xD800 && code <= 0xDBFF) {  // a high surrogate needs its low half
          uint32_t low;
          if (Peek() != '\\' || text_.substr(offset_, 2) != "\\u") {
            return FailAt(start, "a \\u surrogate pair is missing its second half");
          }
          Advance();
          Advance();
          if (!Hex4(low)) return false;
          if (low < 0xDC00 || low > 0xDFFF) {
            return FailAt(start, "a \\u surrogate pair has an invalid second half");
          }
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          return FailAt(start, "a \\u escape holds a lone surrogate");
        }
        AppendUtf8(code, out);
        return true;
      }
      default:
        return FailAt(start,
                      "unknown escape in a string (use \\\", \\\\, \\/, \\b, \\f, \\n, "
                      "\\r, \\t or \\uXXXX)");
    }
  }

  bool String(std::string& out) {
    const JsonPosition start = position_;
    Advance();  // the opening quote
    while (true) {
      if (AtEnd()) return FailAt(start, "unterminated string");
      const char c = Peek();
      if (c == '"') {
        Advance();
        return true;
      }
      if (c == '\\') {
        if (!Escape(out)) return false;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Fail(c == '\n' ? "unterminated string (a string cannot span lines)"
                              : "a control character in a string must be escaped");
      }
      out += c;
      Advance();
    }
  }

  bool Array(JsonValue& value, int depth) {
    value.kind = JsonValue::Kind::kArray;
    Advance();  // '['
    SkipWhitespace();
    if (Peek() == ']') {
      Advance();
      return true;
    }
    while (true) {
      JsonValue item;
      if (!Value(item, depth + 1)) return false;
      value.items.push_back(std::move(item));
      SkipWhitespace();
      if (Peek() == ',') {
        Advance();
        SkipWhitespace();
        if (Peek() == ']') return Fail("a trailing comma before ']' is not allowed in JSON");
        continue;
      }
      if (Peek() == ']') {
        Advance();
        return true;
      }
      return Fail(absl::StrCat("expected ',' or ']' after an array element, found ", Found()));
    }
  }

  bool Object(JsonValue& value, int depth) {
    value.kind = JsonValue::Kind::kObject;
    Advance();  // '{'
    SkipWhitespace();
    if (Peek() == '}') {
      Advance();
      return true;
    }
    while (true) {
      JsonMember member;
      member.key_position = position_;
      if (Peek() != '"') {
        return Fail(absl::StrCat("expected a field name in double quotes, found ", Found()));
      }
      if (!String(member.key)) return false;
      SkipWhitespace();
      if (Peek() != ':') {
        return Fail(absl::StrCat("expected ':' after \"", member.key, "\", found ", Found()));
      }
      Advance();
      SkipWhitespace();
      if (!Value(member.value, depth + 1)) return false;
      value.members.push_back(std::move(member));
      SkipWhitespace();
      if (Peek() == ',') {
        Advance();
        SkipWhitespace();
        if (Peek() == '}') return Fail("a trailing comma before '}' is not allowed in JSON");
        continue;
      }
      if (Peek() == '}') {
        Advance();
        return true;
      }
      return Fail(absl::StrCat("expected ',' or '}' after a field, found ", Found()));
    }
  }

  absl::string_view text_;
  size_t offset_ = 0;
  JsonPosition position_;
  absl::Status error_;
};

}  // namespace

absl::string_view KindName(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::kNull:
      return "null";
    case JsonValue::Kind::kBool:
      return "true or false";
    case JsonValue::Kind::kNumber:
      return "a number";
    case JsonValue::Kind::kString:
      return "a string";
    case JsonValue::Kind::kArray:
      return "a list [...]";
    case JsonValue::Kind::kObject:
      return "an object {...}";
  }
  return "a value";
}

absl::StatusOr<JsonValue> ParseJsonTree(absl::string_view text) { return Parser(text).Document(); }

}  // namespace descent::client
