#include "acme/objects.h"

#include <chrono>
#include <exception>

namespace scepter::acme {
namespace {

using nlohmann::json;

std::int64_t seconds(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint time_of(std::int64_t s) { return TimePoint(Seconds(s)); }

json problem_body(const Problem& p) {
  json j{{"type", p.type}, {"detail", p.detail}, {"status", p.status}};
  if (!p.subproblems.empty()) {
    json subs = json::array();
    for (const Subproblem& s : p.subproblems) {
      subs.push_back(
          {{"identifier", identifier_json(s.identifier)}, {"type", s.type}, {"detail", s.detail}});
    }
    j["subproblems"] = std::move(subs);
  }
  return j;
}

Problem problem_of(const json& j) {
  Problem p;
  p.type = j.at("type").get<std::string>();
  p.detail = j.value("detail", "");
  p.status = j.value("status", 400);
  if (j.contains("subproblems")) {
    for (const json& s : j.at("subproblems")) {
      p.subproblems.push_back({Identifier{s.at("identifier").at("type").get<std::string>(),
                                          s.at("identifier").at("value").get<std::string>()},
                               s.at("type").get<std::string>(), s.value("detail", "")});
    }
  }
  return p;
}

Identifier identifier_of(const json& j) {
  return Identifier{j.at("type").get<std::string>(), j.at("value").get<std::string>()};
}

// Parses a stored body with `read`; a body that is not ours is the database's damage.
template <class T, class F>
Result<T> from_body(const store::AcmeRecord& r, const char* what, F read) {
  try {
    json j = json::parse(r.body);
    T out = read(j);
    out.id = r.id;
    out.version = r.version;
    return out;
  } catch (const std::exception& e) {
    return fail(internal_error(std::string("stored ACME ") + what + " " + r.id +
                               " is unreadable: " + e.what()));
  }
}

}  // namespace

json problem_json(const Problem& p) {
  json j = problem_body(p);
  j["type"] = problem_type_urn(p.type);
  if (j.contains("subproblems")) {
    for (json& s : j["subproblems"]) s["type"] = problem_type_urn(s["type"].get<std::string>());
  }
  return j;
}

json identifier_json(const Identifier& id) { return {{"type", id.type}, {"value", id.value}}; }

// An authorization's status as of `now` (RFC 8555 7.1.6).
std::string authorization_status(const Authorization& a, TimePoint now) {
  if ((a.status == "pending" || a.status == "valid") && now >= a.expires) return "expired";
  return a.status;
}

// An order's status as of `now`, from its authorizations (RFC 8555 7.1.6).
std::string order_status(const Order& o, const std::vector<Authorization>& authzs, TimePoint now) {
  if (o.status != "pending") return o.status;
  if (now >= o.expires) return "invalid";
  bool all_valid = true;
  for (const Authorization& a : authzs) {
    const std::string s = authorization_status(a, now);
    if (s == "invalid" || s == "deactivated" || s == "expired" || s == "revoked") return "invalid";
    if (s != "valid") all_valid = false;
  }
  return all_valid ? "ready" : "pending";
}

store::AcmeRecord to_record(const Account& a) {
  json j{{"status", a.status},
         {"key", a.key},
         {"thumbprint", a.thumbprint},
         {"contact", a.contact},
         {"created", seconds(a.created)},
         {"eab", a.eab_key_id}};
  return {store::AcmeKind::kAccount, a.id, "", j.dump(), TimePoint{}, a.version};
}

store::AcmeRecord to_record(const Order& o) {
  json ids = json::array();
  for (const Identifier& i : o.identifiers) ids.push_back(identifier_json(i));
  json j{{"status", o.status},
         {"expires", seconds(o.expires)},
         {"identifiers", std::move(ids)},
         {"authorizations", o.authorizations},
         {"certificate", o.certificate}};
  if (o.error) j["error"] = problem_body(*o.error);
  // Kept a day past its expiry, so that a client polling late learns it expired.
  return {store::AcmeKind::kOrder,
          o.id,
          o.account,
          j.dump(),
          o.expires + std::chrono::hours(24),
          o.version};
}

store::AcmeRecord to_record(const Authorization& a) {
  json challenges = json::array();
  for (const Challenge& c : a.challenges) {
    json cj{{"type", challenge_type_name(c.type)}, {"status", c.status}};
    if (c.validated) cj["validated"] = seconds(*c.validated);
    if (c.started) cj["started"] = seconds(*c.started);
    if (c.error) cj["error"] = problem_body(*c.error);
    challenges.push_back(std::move(cj));
  }
  json j{{"status", a.status},
         {"expires", seconds(a.expires)},
         {"identifier", identifier_json(a.identifier)},
         {"wildcard", a.wildcard},
         {"token", a.token},
         {"challenges", std::move(challenges)}};
  return {store::AcmeKind::kAuthorization,    a.id,     a.account, j.dump(),
          a.expires + std::chrono::hours(24), a.version};
}

Result<Account> account_from(const store::AcmeRecord& r) {
  return from_body<Account>(r, "account", [](const json& j) {
    Account a;
    a.status = j.at("status").get<std::string>();
    a.key = j.at("key");
    a.thumbprint = j.at("thumbprint").get<std::string>();
    a.contact = j.at("contact").get<std::vector<std::string>>();
    a.created = time_of(j.at("created").get<std::int64_t>());
    a.eab_key_id = j.value("eab", "");
    return a;
  });
}

Result<Order> order_from(const store::AcmeRecord& r) {
  return from_body<Order>(r, "order", [&](const json& j) {
    Order o;
    o.account = r.owner;
    o.status = j.at("status").get<std::string>();
    o.expires = time_of(j.at("expires").get<std::int64_t>());
    for (const json& i : j.at("identifiers")) o.identifiers.push_back(identifier_of(i));
    o.authorizations = j.at("authorizations").get<std::vector<std::string>>();
    o.certificate = j.value("certificate", "");
    if (j.contains("error")) o.error = problem_of(j.at("error"));
    return o;
  });
}

Result<Authorization> authorization_from(const store::AcmeRecord& r) {
  return from_body<Authorization>(r, "authorization", [&](const json& j) {
    Authorization a;
    a.account = r.owner;
    a.status = j.at("status").get<std::string>();
    a.expires = time_of(j.at("expires").get<std::int64_t>());
    a.identifier = identifier_of(j.at("identifier"));
    a.wildcard = j.value("wildcard", false);
    a.token = j.at("token").get<std::string>();
    for (const json& cj : j.at("challenges")) {
      Challenge c;
      auto type = challenge_type_by_name(cj.at("type").get<std::string>());
      if (!type) throw std::runtime_error("unknown challenge type");
      c.type = *type;
      c.status = cj.at("status").get<std::string>();
      if (cj.contains("validated")) c.validated = time_of(cj.at("validated").get<std::int64_t>());
      if (cj.contains("started")) c.started = time_of(cj.at("started").get<std::int64_t>());
      if (cj.contains("error")) c.error = problem_of(cj.at("error"));
      a.challenges.push_back(std::move(c));
    }
    return a;
  });
}

}  // namespace scepter::acme
