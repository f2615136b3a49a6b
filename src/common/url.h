#pragma once
// URLs as they may be shown in messages, logs and on the operator's terminal.

#include <string>
#include <string_view>

namespace scepter {

// The URL with its secrets replaced by "***": the password of
// "scheme://user:pw@host/..." and the value of a "password=" parameter (in the query of
// a URL, or a libpq "key=value" string). Everything else is kept.
std::string redact_url(std::string_view url);

}  // namespace scepter
