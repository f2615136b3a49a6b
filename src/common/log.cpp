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

}  // namespace

void init(bool verbose, const std::string& file) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_logger_mt("scepterd");
  } else {
    logger = spdlog::basic_logger_mt("scepterd", file);
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  state().verbose = verbose;
}

void write(Level level, std::string_view message) { spdlog::log(to_spd(level), "{}", message); }

bool debug_enabled(Category category) {
  State& s = state();
  return s.verbose.load(std::memory_order_relaxed) ||
         s.listeners_per_category[static_cast<int>(category)].load(std::memory_order_relaxed) > 0;
}

void debug(Category category, std::string_view message) {
  State& s = state();
  if (s.verbose.load(std::memory_order_relaxed)) spdlog::debug("{}", message);
  if (s.listeners_per_category[static_cast<int>(category)].load() == 0) return;
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [id, sub] : s.subscribers) {
    if (sub.category == category) sub.listener(category, message);
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
