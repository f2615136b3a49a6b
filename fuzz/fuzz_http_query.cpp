// libFuzzer target for the HTTP request-target parser: split_target(), percent_decode()
// and QueryParams, which see every byte a client puts in a request line.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/query.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace scepter::http;

  const std::string decoded = percent_decode(input);
  check(decoded.size() <= input.size());
  // Input without '%' decodes to itself ('+' included).
  if (input.find('%') == std::string_view::npos) {
    check(decoded == input);
  }

  const Target target = split_target(input);
  check(!target.path.empty() && target.path.front() == '/');
  check(target.query.size() <= input.size());

  const QueryParams params = QueryParams::parse(target.query);
  for (const QueryParam& p : params.items()) {
    check(p.value == percent_decode(p.raw_value));
    const auto first = params.get(p.name);
    check(first.has_value());
    check(params.raw(p.name).has_value());
    check(!params.get_all(p.name).empty());
  }
  const QueryParams direct = QueryParams::parse(input);
  check(direct.size() <= input.size() / 2 + 1);
  return 0;
}
