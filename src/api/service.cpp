#include "api/service.h"

#include <fmt/format.h>

#include "api/answers.h"
#include "api/resources.h"
#include "common/log.h"
#include "pki/digest.h"
#include "pki/encoding.h"

// The OpenAPI description (openapi.json, compiled in by CMake).
extern "C" const char scepter_api_openapi[];

namespace scepter::api {
namespace {

// "/api/v1/a/b" -> {"a", "b"}; nullopt for an empty segment ("//", a trailing '/').
std::optional<std::vector<std::string_view>> segments_of(std::string_view path) {
  path.remove_prefix(std::min(path.size(), kApiRoot.size()));
  std::vector<std::string_view> out;
  if (path.empty()) return out;
  if (path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (seg.empty()) return std::nullopt;
    out.push_back(seg);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// The value of cookie `name` in the Cookie header, or empty.
std::string_view cookie(const http::Request& req, std::string_view name) {
  auto header = req.header("Cookie");
  if (!header) return {};
  std::string_view rest = *header;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return {};
}

std::string_view bearer(const http::Request& req) {
  auto header = req.header("Authorization");
  if (!header || header->size() < 7) return {};
  std::string_view h = *header;
  std::string scheme(h.substr(0, 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return {};
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  return h;
}

std::string session_cookie(std::string_view token, std::chrono::seconds max_age) {
  return fmt::format("{}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Strict", kSessionCookie,
                     token, max_age.count());
}

nlohmann::json session_json(const Session& s, ca::Role role) {
  return {{"username", s.user},
          {"role", ca::role_name(role)},
          {"method", s.method},
          {"address", s.address},
          {"created", json_time(s.created)},
          {"expires", json_time(std::min(s.last_used + kSessionIdle, s.created + kSessionMax))},
          {"csrf_token", s.csrf}};
}

std::string actor_for(std::string_view user, const http::Request& req) {
  return fmt::format("api {} from {}", user.empty() ? "-" : user, req.remote_address);
}

}  // namespace

bool is_api_path(std::string_view path) {
  return path == kApiRoot || (path.starts_with(kApiRoot) && path.size() > kApiRoot.size() &&
                              path[kApiRoot.size()] == '/');
}

bool is_heavy_api_request(const http::Request& req) {
  return is_api_path(req.path) && req.method != "GET" && req.method != "HEAD";
}

ApiService::ApiService(ca::Device& device)
    : device_(device), sessions_(device.clock()), limiter_(device.clock()) {}

void ApiService::audit_failure(const std::string& actor, const std::string& detail,
                               const std::string& outcome) {
  device_.audit().record_untrusted({"login", actor, "", detail, outcome});
}

http::Response ApiService::login(const http::Request& req) {
  auto body = json_body(req);
  if (!body) return problem(400, "The body must be a JSON object sent as application/json.");
  const auto user_field = body->find("username");
  const auto password_field = body->find("password");
  const bool has_password = password_field != body->end();
  if (has_password &&
      (!password_field->is_string() || user_field == body->end() || !user_field->is_string())) {
    return problem(400, "\"username\" and \"password\" are strings.");
  }

  Session session;
  session.address = req.remote_address;
  if (has_password) {
    const std::string user = user_field->get<std::string>();
    const std::string actor = actor_for(ca::valid_account_name(user) ? user : "?", req);
    if (auto wait = limiter_.refused_for(req.remote_address)) {
      http::Response r = problem(429, "Too many wrong passwords from this address; wait.");
      r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
      return r;
    }
    const ca::Accounts::Check check =
        device_.accounts().check_password(user, password_field->get<std::string>());
    switch (check.verdict) {
      case ca::Accounts::Verdict::kOk:
        break;
      case ca::Accounts::Verdict::kBusy: {
        http::Response r = problem(503, "Another login is being checked; try again.");
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
      case ca::Accounts::Verdict::kLocked: {
        audit_failure(actor, "REST API login (password)", "refused: the account is locked");
        if (!check.locked_until) {
          return problem(403,
                         "The account is locked after too many wrong passwords; an administrator "
                         "unlocks it (clear aaa local user lockout).");
        }
        http::Response r = problem(429,
                                   "The account is locked for a while after too many wrong "
                                   "passwords.");
        const auto left =
            std::chrono::ceil<std::chrono::seconds>(*check.locked_until - device_.clock().now());
        r.headers.emplace_back("Retry-After",
                               std::to_string(std::max<std::int64_t>(1, left.count())));
        return r;
      }
      case ca::Accounts::Verdict::kWrong:
        limiter_.failed(req.remote_address);
        audit_failure(actor, "REST API login (password)", "failed: wrong user name or password");
        return problem(401, "Wrong user name or password.");
    }
    session.user = check.account->name;
    session.method = "password";
  } else {
    // The client certificate an account names (`username NAME certificate sha256 HEX`),
    // valid and unrevoked in one of this device's CAs.
    if (req.peer_certificate_der.empty()) {
      return problem(401, "Give \"username\" and \"password\", or present a client certificate.");
    }
    const std::string fingerprint =
        pki::hex_upper(pki::digest(pki::Hash::kSha256, req.peer_certificate_der));
    std::optional<ca::Account> account = device_.accounts().by_certificate(fingerprint);
    bool ours = false;
    if (account) {
      for (const auto& server : device_.servers()) {
        std::optional<pki::Certificate> found;
        auto kind = server->classify_client(req.peer_certificate_der, found);
        if (kind.has_value() && *kind == ca::Signer::kOurs) {
          ours = true;
          break;
        }
      }
    }
    if (!account || !ours) {
      audit_failure(actor_for(account ? account->name : "?", req),
                    "REST API login (client certificate " + fingerprint + ")",
                    account ? "failed: not a valid, unrevoked certificate of this device's CAs"
                            : "failed: no account names this certificate");
      return problem(401, account ? "The client certificate is not a valid, unrevoked certificate "
                                    "of this device's certificate servers."
                                  : "No account names this client certificate.");
    }
    session.user = account->name;
    session.method = "certificate";
  }
  auto opened = sessions_.open(session);
  if (!opened.has_value()) return problem(503, opened.error().message());
  const auto account = device_.accounts().find(session.user);
  const ca::Role role = ca::role_for_privilege(account ? account->privilege : ca::kMinPrivilege);
  device_.audit().record({"login", actor_for(session.user, req), "",
                          fmt::format("REST API login ({})", session.method), "ok"});
  nlohmann::json out = session_json(opened->session, role);
  out["token"] = opened->token;
  http::Response r = json_answer(201, out);
  r.headers.emplace_back(
      "Set-Cookie",
      session_cookie(opened->token, std::chrono::duration_cast<std::chrono::seconds>(kSessionMax)));
  return r;
}

std::variant<ApiService::Caller, http::Response> ApiService::authenticate(
    const http::Request& req) {
  std::string_view token = bearer(req);
  const bool by_cookie = token.empty();
  if (by_cookie) token = cookie(req, kSessionCookie);
  std::optional<Session> session;
  if (!token.empty()) session = sessions_.use(token);
  if (!session) {
    http::Response r = problem(401, "Log in first: POST /api/v1/session.");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"scepter\"");
    return r;
  }
  // The account as it is now: removed, it logs out; its level may have changed.
  const std::optional<ca::Account> account = device_.accounts().find(session->user);
  if (!account) {
    sessions_.close_user(session->user);
    return problem(401, "The account no longer exists.");
  }
  if (by_cookie && req.method != "GET" && req.method != "HEAD") {
    auto csrf = req.header("X-CSRF-Token");
    if (!csrf || !pki::constant_time_equal(*csrf, session->csrf)) {
      return problem(403,
                     "A request carried by the session cookie must repeat the session's "
                     "csrf_token in X-CSRF-Token.");
    }
  }
  Caller caller;
  caller.role = ca::role_for_privilege(account->privilege);
  caller.actor = actor_for(session->user, req);
  caller.session = std::move(*session);
  return caller;
}

http::Response ApiService::handle(const http::Request& req) {
  const auto segments = segments_of(req.path);
  if (!segments || segments->empty()) return problem(404, "No such resource.");
  const auto& seg = *segments;
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (seg.size() == 1 && seg[0] == "openapi.json") {
    if (!get) return wrong_method("GET");
    http::Response r;
    r.content_type = "application/json";
    r.body = scepter_api_openapi;
    r.headers = {{"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
    return r;
  }
  if (seg.size() == 1 && seg[0] == "session" && req.method == "POST") return login(req);

  auto who = authenticate(req);
  if (auto* refusal = std::get_if<http::Response>(&who)) return std::move(*refusal);
  Caller& caller = std::get<Caller>(who);

  if (seg.size() == 1 && seg[0] == "session") {
    if (get) {
      return json_answer(200, session_json(caller.session, caller.role));
    }
    if (req.method == "DELETE") {
      std::string_view token = bearer(req);
      if (token.empty()) token = cookie(req, kSessionCookie);
      sessions_.close(token);
      device_.audit().record({"logout", caller.actor, "", "REST API logout", "ok"});
      http::Response r = json_answer(200, {{"username", caller.session.user}});
      r.headers.emplace_back("Set-Cookie", session_cookie("", std::chrono::seconds(0)));
      return r;
    }
    return wrong_method("GET, POST, DELETE");
  }
  if (seg.size() == 1 && seg[0] == "events") {
    if (!get) return wrong_method("GET");
    std::string_view token = bearer(req);
    if (token.empty()) token = cookie(req, kSessionCookie);
    return events(req, caller, std::string(token));
  }
  if (seg[0] == "servers") {
    return serve_servers(device_, caller, req, std::span(seg).subspan(1));
  }
  return problem(404, "No such resource.");
}

}  // namespace scepter::api
