#include "http/query.h"

namespace scepter::http {
namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != prefix[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

QueryParams QueryParams::parse(std::string_view query) {
  QueryParams params;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t end = query.find('&', pos);
    if (end == std::string_view::npos) {
      end = query.size();
    }
    const std::string_view piece = query.substr(pos, end - pos);
    pos = end + 1;
    if (piece.empty()) {
      continue;
    }
    const std::size_t eq = piece.find('=');
    QueryParam param;
    if (eq == std::string_view::npos) {
      param.name = percent_decode(piece);
    } else {
      param.name = percent_decode(piece.substr(0, eq));
      param.raw_value = std::string(piece.substr(eq + 1));
      param.value = percent_decode(param.raw_value);
    }
    params.items_.push_back(std::move(param));
  }
  return params;
}

const QueryParam* QueryParams::find(std::string_view name) const {
  for (const QueryParam& p : items_) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

std::optional<std::string_view> QueryParams::get(std::string_view name) const {
  const QueryParam* p = find(name);
  if (p == nullptr) {
    return std::nullopt;
  }
  return std::string_view(p->value);
}

std::optional<std::string_view> QueryParams::raw(std::string_view name) const {
  const QueryParam* p = find(name);
  if (p == nullptr) {
    return std::nullopt;
  }
  return std::string_view(p->raw_value);
}

std::vector<std::string_view> QueryParams::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const QueryParam& p : items_) {
    if (p.name == name) {
      out.emplace_back(p.value);
    }
  }
  return out;
}

Target split_target(std::string_view target) {
  // Absolute-form: drop "scheme://authority" and keep what follows.
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (starts_with_ci(target, scheme)) {
      const std::size_t rest = target.find_first_of("/?", scheme.size());
      target = rest == std::string_view::npos ? std::string_view() : target.substr(rest);
      break;
    }
  }
  Target out;
  const std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) {
    out.query = std::string(target.substr(q + 1));
  }
  out.path = percent_decode(path);
  if (out.path.empty() || out.path.front() != '/') {
    out.path.insert(out.path.begin(), '/');
  }
  return out;
}

}  // namespace scepter::http
