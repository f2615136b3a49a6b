#include "common/log.h"

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace scepter::log {
namespace {

struct Subscriber {
  Category category;
  Listener listener;
};

struct State {
  std::mutex mu;
  std::map<std::uint64_t, Subscriber> subscribers;  // GUARDED_BY(mu)
  std::uint64_t next_id = 1;                        // GUARDED_BY(mu)
  std::array<std::atomic<int>, 3> listeners_per_category{};
  std::atomic<bool> verbose{false};
  std::atomic<Format> format{Format::kText};
};

State& state() {
  static State* s = new State();  // never destroyed: loggers may run during exit
  return *s;
}

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Length of the well-formed UTF-8 sequence of two or more bytes at the start of `s`
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) and its code
// point; 0 when there is none.
std::size_t utf8_sequence(std::string_view s, char32_t& cp) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    cp = static_cast<char32_t>(((c & 0x1F) << 6) | (b(1) & 0x3F));
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) return 0;
    cp = static_cast<char32_t>(((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F));
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) return 0;
    cp = static_cast<char32_t>(((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) |
                               (b(3) & 0x3F));
    return 4;
  }
  return 0;
}

// Code points that are valid UTF-8 but still act on a terminal or hide text.
bool unsafe_code_point(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||      // C1 controls (0x9B is CSI)
         cp == 0x2028 || cp == 0x2029 ||    // line and paragraph separators
         (cp >= 0x202A && cp <= 0x202E) ||  // bidirectional embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069);    // bidirectional isolates
}

void append_hex(std::string& out, std::string_view bytes) {
  for (char ch : bytes) out += fmt::format("\\x{:02X}", static_cast<unsigned char>(ch));
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c < 0x80) {
      append_hex(out, text.substr(i, 1));
      ++i;
    } else {
      char32_t cp = 0;
      const std::size_t n = utf8_sequence(text.substr(i), cp);
      if (n == 0) {
        append_hex(out, text.substr(i, 1));
        ++i;
      } else {
        if (unsafe_code_point(cp)) {
          append_hex(out, text.substr(i, n));
        } else {
          out.append(text.substr(i, n));
        }
        i += n;
      }
    }
  }
  return out;
}

std::string formatted(std::string_view message, Format format) {
  std::string safe = escape(message);
  if (format == Format::kText) return safe;
  // escape() left no control character: only the quote and the backslash need JSON's
  // escaping.
  std::string out;
  out.reserve(safe.size() + 2);
  out.push_back('"');
  for (char c : safe) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void init(bool verbose, const std::string& file, Format format) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_logger_mt("scepterd");
  } else {
    logger = spdlog::basic_logger_mt("scepterd", file);
  }
  if (format == Format::kJson) {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  state().format = format;
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  // Debug lines are many and not flushed one by one; a reader of the log file sees them
  // within a second all the same.
  if (verbose) spdlog::flush_every(std::chrono::seconds(1));
  state().verbose = verbose;
}

void write(Level level, std::string_view message) {
  spdlog::log(to_spd(level), "{}", formatted(message, state().format.load()));
}

bool debug_enabled(Category category) {
  State& s = state();
  return s.verbose.load(std::memory_order_relaxed) ||
         s.listeners_per_category[static_cast<int>(category)].load(std::memory_order_relaxed) > 0;
}

void debug(Category category, std::string_view message) {
  State& s = state();
  const bool verbose = s.verbose.load(std::memory_order_relaxed);
  if (!verbose && s.listeners_per_category[static_cast<int>(category)].load() == 0) return;
  const std::string safe = escape(message);
  if (verbose) {
    spdlog::debug("{}",
                  s.format.load() == Format::kText ? safe : formatted(message, Format::kJson));
  }
  if (s.listeners_per_category[static_cast<int>(category)].load() == 0) return;
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [id, sub] : s.subscribers) {
    if (sub.category == category) sub.listener(category, safe);
  }
}

std::uint64_t subscribe(Category category, Listener listener) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  std::uint64_t id = s.next_id++;
  s.subscribers.emplace(id, Subscriber{category, std::move(listener)});
  s.listeners_per_category[static_cast<int>(category)]++;
  return id;
}

void unsubscribe(std::uint64_t id) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.subscribers.find(id);
  if (it == s.subscribers.end()) return;
  s.listeners_per_category[static_cast<int>(it->second.category)]--;
  s.subscribers.erase(it);
}

}  // namespace scepter::log
