#pragma once
// Helpers shared by the HTTP server's files (not part of the public interface).

#include <ctime>
#include <string>
#include <string_view>

namespace scepter::http::detail {

// ASCII case-insensitive equality, as HTTP compares header names and tokens.
bool iequals(std::string_view a, std::string_view b);

// RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". Independent of the locale.
std::string http_date(std::time_t t);

// Whether a handler-supplied header may be sent as is: not one the server owns
// (Content-Length, Transfer-Encoding, Connection, Date, Server, Content-Type), a valid
// token for a name, and no CR, LF or NUL anywhere (no header injection).
bool is_sendable_header(std::string_view name, std::string_view value);

}  // namespace scepter::http::detail
