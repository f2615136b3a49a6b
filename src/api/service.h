#pragma once
// The REST API at /api/v1/ on the HTTPS listener: what an operator does at the shell, in
// JSON, for scripts and for the web console. Its description is /api/v1/openapi.json
// (openapi.json beside this file, compiled in).
//
//   POST   /api/v1/session                          log in (password or client certificate)
//   GET    /api/v1/session                          who is logged in
//   DELETE /api/v1/session                          log out
//   GET    /api/v1/servers                          every certificate server's status
//   GET    /api/v1/servers/{label}                  one server's status and timers
//   GET    /api/v1/servers/{label}/requests         enrolment requests (filter, paging)
//   GET    /api/v1/servers/{label}/requests/{id}    one request
//   POST   /api/v1/servers/{label}/requests/{id}/grant | /reject
//   DELETE /api/v1/servers/{label}/requests/{id}    remove it
//   GET    /api/v1/servers/{label}/certificates     search by subject, SAN, serial, state
//   GET    /api/v1/servers/{label}/certificates/{serial}
//   POST   /api/v1/servers/{label}/certificates/{serial}/revoke   {"reason": "keyCompromise"}
//   GET    /api/v1/servers/{label}/crl              the CRL (DER)
//   GET    /api/v1/servers/{label}/crl/info         what it holds
//   POST   /api/v1/servers/{label}/otp              a one-time enrolment password
//   GET    /api/v1/events                           live changes (text/event-stream)
//
// Events: GET /api/v1/events answers server-sent events from the device's EventHub
// (ca/events.h), any role, with the session cookie (an EventSource cannot send other
// headers) or a bearer token. Each event has `id:` (its sequence number), `event:`
// (request, certificate, crl or resync) and one `data:` line of JSON {sequence, kind,
// server, id, state, time}. A client reconnecting with Last-Event-ID gets what it missed
// while the hub's history still holds it, else `resync` (reload the lists). The stream
// ends when its session does: checked at every heartbeat (a ":" comment every 15 s).
//
// Accounts are the device's `username` lines (ca/accounts.h): privilege 1 reads, 2 and
// up may also act. Sessions, CSRF and the login limits are in sessions.h. Every action
// calls the CertificateServer method the shell command calls, and writes the audit
// record the shell writes for that command line (event "command", the command as typed
// at the shell, actor "api USER from ADDRESS"), so the audit log reads the same whichever
// way an operator came in. Logins, failed ones included, are audited too; failed ones
// through AuditLog::record_untrusted (an unauthenticated client chooses how many it
// makes).
//
// Errors are RFC 9457 problem documents (application/problem+json). Every answer says
// Cache-Control: no-store.
//
// Thread safety: handle() may be called from any thread.

#include <string_view>
#include <variant>

#include "api/sessions.h"
#include "ca/device.h"
#include "common/mutex.h"
#include "http/server.h"

namespace scepter::api {

inline constexpr std::string_view kApiRoot = "/api/v1";
inline constexpr std::string_view kSessionCookie = "scepter_session";
// Paging of the lists: the default and the largest page.
inline constexpr int kDefaultPage = 50, kMaxPage = 500;

// "/api/v1" and everything under it.
bool is_api_path(std::string_view path);
// Requests that compute or commit (a login's scrypt, a grant's signature, a revocation):
// they wait in the listener's bounded heavy queue. Reads are light.
bool is_heavy_api_request(const http::Request& req);

class ApiService {
 public:
  explicit ApiService(ca::Device& device);
  http::Response handle(const http::Request& req);

  // The logged-in caller of a request.
  struct Caller {
    Session session;
    ca::Role role = ca::Role::kReadOnly;
    std::string actor;  // "api USER from ADDRESS", as the audit log names it
  };

 private:
  http::Response login(const http::Request& req);
  // GET /api/v1/events (events.cpp). `token`: the session's, checked at each heartbeat.
  http::Response events(const http::Request& req, const Caller& caller, std::string token);
  // The caller, or the 401/403 answer.
  std::variant<Caller, http::Response> authenticate(const http::Request& req);
  // An audit record of a failed login (AuditLog::record_untrusted).
  void audit_failure(const std::string& actor, const std::string& detail,
                     const std::string& outcome);

  ca::Device& device_;
  SessionStore sessions_;
  LoginLimiter limiter_;
};

}  // namespace scepter::api
