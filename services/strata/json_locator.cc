#include "services/strata/json_locator.h"

#include <cctype>
#include <vector>

#include "absl/strings/str_cat.h"

namespace strata {

std::string NormalisedJsonKey(absl::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

class JsonLocator::Scanner {
 public:
  Scanner(absl::string_view text, std::map<std::string, int>& lines)
      : text_(text), lines_(lines) {}

  absl::Status Document() {
    SkipSpace();
    if (absl::Status s = Value(""); !s.ok()) return s;
    SkipSpace();
    if (at_ != text_.size()) return Error("text after the document");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", what));
  }

  void SkipSpace() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) {
      if (text_[at_] == '\n') ++line_;
      ++at_;
    }
  }

  absl::Status Value(const std::string& path) {
    if (!path.empty()) lines_.emplace(path, line_);
    if (at_ >= text_.size()) return Error("unexpected end of the document");
    switch (text_[at_]) {
      case '{':
      case '[': {
        // The scanner recurses: a hostile file must not exhaust the stack.
        if (++depth_ > kMaxDepth) {
          return Error(absl::StrCat("nested deeper than ", kMaxDepth));
        }
        absl::Status s = text_[at_] == '{' ? Object(path) : Array(path);
        --depth_;
        return s;
      }
      case '"': {
        std::string ignored;
        return String(ignored);
      }
      default:
        return Scalar();
    }
  }

  absl::Status Object(const std::string& path) {
    ++at_;  // '{'
    SkipSpace();
    if (at_ < text_.size() && text_[at_] == '}') {
      ++at_;
      return absl::OkStatus();
    }
    while (true) {
      SkipSpace();
      if (at_ >= text_.size() || text_[at_] != '"') return Error("expected a key");
      std::string key;
      const int key_line = line_;
      if (absl::Status s = String(key); !s.ok()) return s;
      SkipSpace();
      if (at_ >= text_.size() || text_[at_] != ':') return Error("expected ':'");
      ++at_;
      SkipSpace();
      const std::string member =
          path.empty() ? NormalisedJsonKey(key)
                       : absl::StrCat(path, ".", NormalisedJsonKey(key));
      lines_.emplace(member, key_line);
      if (absl::Status s = Value(member); !s.ok()) return s;
      SkipSpace();
      if (at_ < text_.size() && text_[at_] == ',') {
        ++at_;
        continue;
      }
      if (at_ < text_.size() && text_[at_] == '}') {
        ++at_;
        return absl::OkStatus();
      }
      return Error("expected ',' or '}'");
    }
  }

  absl::Status Array(const std::string& path) {
    ++at_;  // '['
    SkipSpace();
    if (at_ < text_.size() && text_[at_] == ']') {
      ++at_;
      return absl::OkStatus();
    }
    for (int i = 0;; ++i) {
      SkipSpace();
      if (absl::Status s = Value(absl::StrCat(path, "[", i, "]")); !s.ok()) {
        return s;
      }
      SkipSpace();
      if (at_ < text_.size() && text_[at_] == ',') {
        ++at_;
        continue;
      }
      if (at_ < text_.size() && text_[at_] == ']') {
        ++at_;
        return absl::OkStatus();
      }
      return Error("expected ',' or ']'");
    }
  }

  // Keeps what it holds only roughly (escapes as they are): enough for keys.
  absl::Status String(std::string& out) {
    ++at_;  // '"'
    while (at_ < text_.size() && text_[at_] != '"') {
      if (text_[at_] == '\n') return Error("a line break inside a string");
      if (text_[at_] == '\\') {
        if (++at_ >= text_.size()) break;
      }
      out.push_back(text_[at_++]);
    }
    if (at_ >= text_.size()) return Error("a string that does not end");
    ++at_;  // '"'
    return absl::OkStatus();
  }

  absl::Status Scalar() {
    const size_t start = at_;
    while (at_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[at_])) &&
           text_[at_] != ',' && text_[at_] != '}' && text_[at_] != ']') {
      ++at_;
    }
    if (at_ == start) return Error("expected a value");
    return absl::OkStatus();
  }

  static constexpr int kMaxDepth = 200;

  absl::string_view text_;
  std::map<std::string, int>& lines_;
  size_t at_ = 0;
  int line_ = 1;
  int depth_ = 0;
};

absl::StatusOr<JsonLocator> JsonLocator::Parse(absl::string_view json) {
  JsonLocator locator;
  Scanner scanner(json, locator.lines_);
  if (absl::Status s = scanner.Document(); !s.ok()) return s;
  return locator;
}

std::optional<int> JsonLocator::LineOf(absl::string_view path) const {
  // Normalise each key of the path; indexes stay as they are.
  std::string normal;
  std::string key;
  auto flush = [&] {
    if (key.empty()) return;
    if (!normal.empty()) normal.push_back('.');
    normal += NormalisedJsonKey(key);
    key.clear();
  };
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '.') {
      flush();
    } else if (c == '[') {
      flush();
      const size_t close = path.find(']', i);
      if (close == absl::string_view::npos) break;
      absl::StrAppend(&normal, path.substr(i, close - i + 1));
      i = close;
    } else {
      key.push_back(c);
    }
  }
  flush();
  // The deepest located prefix.
  while (!normal.empty()) {
    if (auto it = lines_.find(normal); it != lines_.end()) return it->second;
    const size_t cut = normal.find_last_of(".[");
    if (cut == std::string::npos) break;
    normal.resize(cut);
  }
  return std::nullopt;
}

}  // namespace strata
