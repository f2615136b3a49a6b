#include "common/url.h"

#include <algorithm>

namespace scepter {

std::string redact_url(std::string_view url) {
  std::string out(url);
  // "scheme://user:pw@host": the last '@' before the path, and the first ':' after the
  // scheme's "//" and before that '@'.
  if (const auto start = out.find("://"); start != std::string::npos) {
    const auto host = start + 3;
    const auto end = out.find_first_of("/?#", host);
    const auto at = out.substr(0, end).rfind('@');
    if (at != std::string::npos && at >= host) {
      const auto colon = out.substr(0, at).find(':', host);
      if (colon != std::string::npos) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // "?password=pw&..." in a URL's query, "password=pw" or "password='p w'" in a libpq
  // "key=value" string.
  constexpr std::string_view kKey = "password=";
  for (auto pos = out.find(kKey); pos != std::string::npos; pos = out.find(kKey, pos)) {
    const bool starts_param = pos == 0 || out[pos - 1] == '?' || out[pos - 1] == '&' ||
                              out[pos - 1] == ' ' || out[pos - 1] == '\t' || out[pos - 1] == '\n';
    pos += kKey.size();
    if (!starts_param) continue;
    auto end = pos;
    if (end < out.size() && out[end] == '\'') {
      for (++end; end < out.size() && out[end] != '\''; ++end) {
        if (out[end] == '\\') ++end;  // an escaped quote or backslash
      }
      end = std::min(end + 1, out.size());
    } else {
      end = std::min(out.find_first_of("& \t\n#", pos), out.size());
    }
    out.replace(pos, end - pos, "***");
    pos += 3;
  }
  return out;
}

}  // namespace scepter
