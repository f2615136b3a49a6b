#include "api/sessions.h"

#include "pki/digest.h"
#include "pki/encoding.h"

namespace scepter::api {
namespace {

std::string token_key(std::string_view token) { return pki::digest(pki::Hash::kSha256, token); }

Result<std::string> random_token() {
  ASSIGN_OR_RETURN(std::string bytes, pki::random_bytes(32));
  std::string hex = pki::hex_upper(bytes);
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

}  // namespace

bool SessionStore::expired(const Session& s, TimePoint now) const {
  return now - s.last_used >= kSessionIdle || now - s.created >= kSessionMax;
}

Result<SessionStore::Opened> SessionStore::open(Session session) {
  ASSIGN_OR_RETURN(std::string token, random_token());
  ASSIGN_OR_RETURN(session.csrf, random_token());
  const TimePoint now = clock_.now();
  session.created = now;
  session.last_used = now;
  MutexLock lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = expired(it->second, now) ? sessions_.erase(it) : std::next(it);
  }
  if (sessions_.size() >= kMaxSessions) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[token_key(token)] = session;
  return Opened{std::move(token), std::move(session)};
}

std::optional<Session> SessionStore::use(std::string_view token) {
  const std::string key = token_key(token);
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

bool SessionStore::alive(std::string_view token) const {
  const std::string key = token_key(token);
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  auto it = sessions_.find(key);
  return it != sessions_.end() && !expired(it->second, now);
}

void SessionStore::close(std::string_view token) {
  const std::string key = token_key(token);
  MutexLock lock(mu_);
  sessions_.erase(key);
}

void SessionStore::close_user(const std::string& user) {
  MutexLock lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.user == user ? sessions_.erase(it) : std::next(it);
  }
}

std::size_t SessionStore::size() const {
  MutexLock lock(mu_);
  return sessions_.size();
}

std::optional<std::chrono::seconds> LoginLimiter::refused_for(const std::string& address) {
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  auto it = windows_.find(address);
  if (it == windows_.end()) return std::nullopt;
  const auto elapsed = now - it->second.start;
  if (elapsed >= std::chrono::minutes(1)) {
    windows_.erase(it);
    return std::nullopt;
  }
  if (it->second.failures < kLoginFailuresPerMinute) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(std::chrono::minutes(1) - elapsed);
}

void LoginLimiter::failed(const std::string& address) {
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  auto it = windows_.find(address);
  if (it == windows_.end() || now - it->second.start >= std::chrono::minutes(1)) {
    if (it == windows_.end() && windows_.size() >= kMaxLoginAddresses) {
      auto oldest = windows_.begin();
      for (auto w = windows_.begin(); w != windows_.end(); ++w) {
        if (w->second.start < oldest->second.start) oldest = w;
      }
      windows_.erase(oldest);
    }
    windows_[address] = Window{now, 1};
    return;
  }
  ++it->second.failures;
}

}  // namespace scepter::api
