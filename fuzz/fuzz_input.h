#pragma once
// Helpers shared by the fuzz targets.

#include <cstddef>
#include <string_view>
#include <vector>

namespace scepter::fuzzing {

// `in` cut at its first parts - 1 NUL bytes into exactly `parts` fields (missing ones
// empty): how a target takes several untrusted values (a path, a header, a body) from one
// input.
inline std::vector<std::string_view> split_fields(std::string_view in, std::size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const std::size_t at = in.find('\0');
    if (at == std::string_view::npos) break;
    out.push_back(in.substr(0, at));
    in.remove_prefix(at + 1);
  }
  out.push_back(in);
  out.resize(parts);
  return out;
}

}  // namespace scepter::fuzzing
