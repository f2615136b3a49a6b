#pragma once
// The REST API's logins: sessions opened by a password or a client certificate, and the
// limit on wrong passwords from one address.
//
// A session is named by a token (64 hex digits from 32 random bytes) that the client
// sends back, as `Authorization: Bearer TOKEN` (scripts) or in the `scepter_session`
// cookie (the web console). Only the token's SHA-256 is kept, so a memory dump does not
// hand out sessions. Each session also has a CSRF token, which a request carried by the
// cookie must repeat in `X-CSRF-Token` to change anything: another site can make a
// browser send the cookie, but cannot read the CSRF token.
//
// A session ends after kSessionIdle without a request, after kSessionMax in any case, at
// logout, and when its account is removed. At most kMaxSessions live at once: a new one
// then ends the one used longest ago.
//
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace scepter::api {

inline constexpr std::chrono::minutes kSessionIdle{30};
inline constexpr std::chrono::hours kSessionMax{12};
inline constexpr std::size_t kMaxSessions = 1024;

struct Session {
  std::string user;
  std::string csrf;     // set by open()
  std::string method;   // "password" or "certificate"
  std::string address;  // where it logged in from
  TimePoint created{};
  TimePoint last_used{};
};

class SessionStore {
 public:
  explicit SessionStore(const Clock& clock) : clock_(clock) {}

  // A new session for `session.user`; returns it with its token and CSRF token set.
  struct Opened {
    std::string token;
    Session session;
  };
  Result<Opened> open(Session session);
  // The live session `token` names (its idle time starts again), or nullopt.
  std::optional<Session> use(std::string_view token);
  // Whether `token` names a live session, without counting as a use (an open event
  // stream does not keep its session from going idle).
  bool alive(std::string_view token) const;
  void close(std::string_view token);
  // Ends every session of `user` (the account was removed).
  void close_user(const std::string& user);
  std::size_t size() const;

 private:
  bool expired(const Session& s, TimePoint now) const;

  const Clock& clock_;
  mutable Mutex mu_;
  std::map<std::string, Session> sessions_ GUARDED_BY(mu_);  // by SHA-256 of the token
};

// Wrong passwords one address may send in a minute before its logins are refused
// unchecked (with 429), whatever the account.
inline constexpr int kLoginFailuresPerMinute = 10;
// Addresses followed at once; beyond, the one seen longest ago is forgotten.
inline constexpr std::size_t kMaxLoginAddresses = 4096;

class LoginLimiter {
 public:
  explicit LoginLimiter(const Clock& clock) : clock_(clock) {}
  // Whether `address` may try a password now; when not, how long until it may.
  std::optional<std::chrono::seconds> refused_for(const std::string& address);
  void failed(const std::string& address);

 private:
  struct Window {
    TimePoint start{};
    int failures = 0;
  };
  const Clock& clock_;
  Mutex mu_;
  std::map<std::string, Window> windows_ GUARDED_BY(mu_);
};

}  // namespace scepter::api
