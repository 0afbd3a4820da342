// tests/tools/json_lite.hpp: a small JSON reader for checking the tools' output (objects, arrays,
// strings without escapes beyond \" and \\, numbers, true/false/null). Numbers keep their text so
// the test decides how to compare them. Throws std::runtime_error on malformed input.
#ifndef QSAFE_TESTS_TOOLS_JSON_LITE_HPP_
#define QSAFE_TESTS_TOOLS_JSON_LITE_HPP_

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace json_lite {

struct Value {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  std::string text;  // number text or string contents; "true"/"false" for booleans
  std::vector<Value> items;
  std::map<std::string, Value> fields;
  std::vector<std::string> order;  // object keys in document order

  double number() const {
    if (kind != Kind::number) throw std::runtime_error("not a number");
    return std::strtod(text.c_str(), nullptr);
  }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  Value parse() {
    Value v = value();
    space();
    if (i_ != s_.size()) fail("trailing text");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json: " + what + " at " + std::to_string(i_) + " in " + s_.substr(0, 200));
  }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  std::string str() {
    if (peek() != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        ++i_;
        if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\\')) fail("unsupported escape");
      }
      out += s_[i_++];
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  Value value() {
    space();
    Value v;
    const char c = peek();
    if (c == '{') {
      v.kind = Value::Kind::object;
      ++i_;
      space();
      if (peek() == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        space();
        const std::string key = str();
        space();
        if (peek() != ':') fail("expected ':'");
        ++i_;
        if (v.fields.count(key) != 0) fail("duplicate key " + key);
        v.fields[key] = value();
        v.order.push_back(key);
        space();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        if (peek() == '}') {
          ++i_;
          return v;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::array;
      ++i_;
      space();
      if (peek() == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.items.push_back(value());
        space();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        if (peek() == ']') {
          ++i_;
          return v;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::string;
      v.text = str();
      return v;
    }
    for (const char* word : {"true", "false", "null"}) {
      const std::string w = word;
      if (s_.compare(i_, w.size(), w) == 0) {
        i_ += w.size();
        v.kind = w == "null" ? Value::Kind::null : Value::Kind::boolean;
        v.text = w;
        return v;
      }
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && std::string("+-0123456789.eE").find(s_[i_]) != std::string::npos) ++i_;
    if (i_ == start) fail("unexpected character");
    v.kind = Value::Kind::number;
    v.text = s_.substr(start, i_ - start);
    char* end = nullptr;
    std::strtod(v.text.c_str(), &end);
    if (end != v.text.c_str() + v.text.size()) fail("bad number " + v.text);
    return v;
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

inline Value parse(const std::string& s) { return Parser(s).parse(); }

}  // namespace json_lite

#endif  // QSAFE_TESTS_TOOLS_JSON_LITE_HPP_
