#pragma once
// Logging. A thin layer over spdlog (kept out of this header: it is slow to compile).
// Besides the daemon's log, listeners can subscribe to debug categories: that is how
// `debug crypto pki server` streams the certificate server's trace to a shell session.
// All functions are thread-safe.

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

void write(Level level, std::string_view message);
// A debug line in `category`; cheap when nobody listens and the log level is info.
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

// Sends log output to stderr (default) or to a file; `verbose` enables debug level.
void init(bool verbose, const std::string& file = "");

}  // namespace scepter::log
