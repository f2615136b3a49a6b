#pragma once
// Logging. A thin layer over spdlog (kept out of this header: it is slow to compile).
// Besides the daemon's log, listeners can subscribe to debug categories: that is how
// `debug crypto pki server` streams the certificate server's trace to a shell session.
// All functions are thread-safe.
//
// Messages often carry text an attacker chose (a CSR's subject, a transactionID, a URL,
// a configuration line). Every message is passed through escape() here, before it
// reaches the log file or a listener (an operator's terminal), so that no caller needs
// to remember: a forged "\n2026-... INFO granted" or a terminal escape sequence is
// shown as text, never acted on.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace scepter::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Debug categories an operator can turn on with `debug ...`.
enum class Category : std::uint8_t {
  kGeneral = 0,
  kPkiServer = 1,        // debug crypto pki server   (CRYPTO_CS: ...)
  kPkiTransactions = 2,  // debug crypto pki transactions (CRYPTO_PKI: ...)
};

// Printable ASCII and well-formed UTF-8 are kept as they are; a newline becomes the two
// characters "\n"; other control characters (C0, DEL, C1 such as U+009B), the Unicode
// line and paragraph separators, bidirectional overrides (U+202A-U+202E,
// U+2066-U+2069) and bytes that are not valid UTF-8 become "\xNN", one per byte.
// Backslashes are kept. Linear in the size of `text`.
std::string escape(std::string_view text);

// Writes `message` (escaped) to the log.
void write(Level level, std::string_view message);
// A debug line (escaped) in `category`; cheap when nobody listens and the log level is
// info.
void debug(Category category, std::string_view message);
bool debug_enabled(Category category);

template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
  write(Level::kInfo, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) {
  write(Level::kWarn, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) {
  write(Level::kError, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void trace(Category c, fmt::format_string<A...> f, A&&... a) {
  if (debug_enabled(c)) debug(c, fmt::format(f, std::forward<A>(a)...));
}

// Listener for debug lines of one category. Returns an id for unsubscribe().
using Listener = std::function<void(Category, std::string_view)>;
std::uint64_t subscribe(Category category, Listener listener);
void unsubscribe(std::uint64_t id);

// How each log line is written.
enum class Format {
  kText,  // "2026-12-06T12:00:00.123 info MESSAGE", local time
  // One JSON object per line, for log collectors: {"time":"2026-12-06T12:00:00.123Z",
  // "level":"info","message":"..."} (UTC). The message is escaped as above first, so it
  // reads the same as in text; then '"' and '\' are escaped for JSON.
  kJson,
};

// Sends log output to stderr (default) or to a file; `verbose` enables debug level.
void init(bool verbose, const std::string& file = "", Format format = Format::kText);
// The line `message` is written as, after escape(), in `format`: as it is for text, a
// JSON string (quotes included) for JSON. For tests.
std::string formatted(std::string_view message, Format format);

}  // namespace scepter::log
