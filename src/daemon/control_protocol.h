#pragma once
// The control socket's wire format, daemon side (docs/shell.md describes it for
// clients). One JSON object per line in both directions:
//
//   client -> daemon   {"op":"hello"} | {"op":"exec","line":"..."}
//                      {"op":"help","line":"..."} | {"op":"complete","line":"..."}
//   daemon -> client   one answer per request:
//                      {"output":"...","ok":true,"closed":false,"prompt":"ca1#","hidden":false}
//                      (a complete answer also has "completions":[...])
//                      and, at any time between answers, {"async":"text"}
//
// Pure functions, no I/O; safe to call from any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scepter::daemon {

// Longest request line accepted, not counting the '\n'.
inline constexpr std::size_t kMaxRequestBytes = std::size_t{1} << 20;

enum class ControlOp { kHello, kExec, kHelp, kComplete };

struct ControlRequest {
  ControlOp op = ControlOp::kHello;
  std::string line;  // empty for kHello
};

// Parses one request line (without its '\n'). Fails with kInvalidArgument when the text
// is not JSON, not an object, has an unknown "op", or lacks a string "line" where the op
// needs one. Never throws.
Result<ControlRequest> parse_request(std::string_view text);

struct ControlAnswer {
  std::string output;
  bool ok = true;
  bool closed = false;
  std::string prompt;
  bool hidden = false;
  std::optional<std::vector<std::string>> completions;  // only in complete answers
};

// One answer as a JSON line ending in '\n'. Bytes that are not UTF-8 are replaced with
// U+FFFD rather than failing.
std::string encode_answer(const ControlAnswer& answer);
// An asynchronous line {"async":text} ending in '\n'.
std::string encode_async(std::string_view text);

}  // namespace scepter::daemon
