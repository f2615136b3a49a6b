#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace scepter {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kPermissionDenied:
      return "PermissionDenied";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kInternal:
      return "Internal";
    case Code::kAborted:
      return "Aborted";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

void assert_fail(const char* file, int line, const char* cond, const char* why) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s (%s)\n", file, line, cond, why);
  std::abort();
}

}  // namespace scepter
