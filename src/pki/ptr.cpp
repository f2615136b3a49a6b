#include "pki/ptr.h"

#include <string>

#include <openssl/err.h>

namespace scepter::pki {

Status last_error(Code code, std::string_view what) {
  std::string msg(what);
  bool first = true;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return Status(code, msg);
}

Status last_error(std::string_view what) { return last_error(Code::kInternal, what); }

}  // namespace scepter::pki
