// tests/tools/report_html_check.hpp: a strict well-formedness check for qsafe-report's HTML: every
// element closed in order (void elements must be written <x/>), attributes quoted, no stray '<' or
// '&' in text, and nothing loaded from outside the page (no script, link, img, src=, href=, url()).
// Returns "" when the page passes, else the first problem.
#ifndef QSAFE_TESTS_TOOLS_REPORT_HTML_CHECK_HPP_
#define QSAFE_TESTS_TOOLS_REPORT_HTML_CHECK_HPP_

#include <cctype>
#include <string>
#include <vector>

namespace report_check {

inline std::string html_problem(const std::string& h) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  const auto where = [&](std::size_t at) { return " at offset " + std::to_string(at) + ": " + h.substr(at, 60); };
  while (i < h.size()) {
    const char c = h[i];
    if (c == '&') {  // an entity: &name; or &#digits;
      std::size_t j = i + 1;
      if (j < h.size() && h[j] == '#') ++j;
      const std::size_t start = j;
      while (j < h.size() && std::isalnum(static_cast<unsigned char>(h[j]))) ++j;
      if (j == start || j >= h.size() || h[j] != ';') return "bare '&'" + where(i);
      i = j + 1;
      continue;
    }
    if (c == '>') return "stray '>'" + where(i);
    if (c != '<') {
      ++i;
      continue;
    }
    if (h.compare(i, 9, "<!DOCTYPE") == 0) {
      i = h.find('>', i);
      if (i == std::string::npos) return "unterminated doctype";
      ++i;
      continue;
    }
    if (h.compare(i, 4, "<!--") == 0) {
      i = h.find("-->", i);
      if (i == std::string::npos) return "unterminated comment";
      i += 3;
      continue;
    }
    const bool closing = i + 1 < h.size() && h[i + 1] == '/';
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < h.size() && (std::isalnum(static_cast<unsigned char>(h[j])) || h[j] == '-')) ++j;
    const std::string name = h.substr(name_start, j - name_start);
    if (name.empty()) return "'<' without a tag name" + where(i);
    // Attributes: name="value" pairs, values without '<'.
    bool self_closing = false;
    for (;;) {
      while (j < h.size() && std::isspace(static_cast<unsigned char>(h[j]))) ++j;
      if (j >= h.size()) return "unterminated tag <" + name;
      if (h[j] == '>') break;
      if (h[j] == '/' && j + 1 < h.size() && h[j + 1] == '>') {
        self_closing = true;
        ++j;
        break;
      }
      if (closing) return "attributes on a closing tag" + where(i);
      const std::size_t a = j;
      while (j < h.size() && (std::isalnum(static_cast<unsigned char>(h[j])) || h[j] == '-' || h[j] == ':')) ++j;
      if (j == a || j >= h.size() || h[j] != '=' || j + 1 >= h.size() || h[j + 1] != '"')
        return "unquoted or malformed attribute" + where(a);
      const std::size_t end = h.find('"', j + 2);
      if (end == std::string::npos) return "unterminated attribute value" + where(a);
      if (h.find('<', j + 2) < end) return "'<' inside an attribute value" + where(a);
      j = end + 1;
    }
    for (const char* banned : {"script", "link", "img", "iframe", "object", "embed"})
      if (name == banned) return "external or active element <" + name + ">";
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes " + (stack.empty() ? std::string("nothing") : "<" + stack.back() + ">") +
               where(i);
      stack.pop_back();
    } else if (!self_closing) {
      for (const char* v : {"meta", "br", "hr", "input", "col"})
        if (name == v) return "void element <" + name + "> not written as <" + name + "/>" + where(i);
      stack.push_back(name);
    }
    i = j + 1;
  }
  if (!stack.empty()) return "<" + stack.back() + "> never closed";
  for (const char* banned : {" src=", " href=", "url(", "@import"})
    if (h.find(banned) != std::string::npos) return std::string("external reference '") + banned + "'";
  return "";
}

}  // namespace report_check

#endif  // QSAFE_TESTS_TOOLS_REPORT_HTML_CHECK_HPP_
