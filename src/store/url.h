#pragma once
// Database URLs as they may be shown: shared by open_store() and the engines.

#include <string>
#include <string_view>

namespace scepter::store {

// The URL as it may appear in an error message or a log line: the password of
// "scheme://user:pw@host/..." and the value of a "password=" parameter (in the query of a
// URL, or a libpq "key=value" string) are replaced by "***". Everything else is kept.
std::string redacted(std::string_view url);

}  // namespace scepter::store
