// AcmeService (service.h): orders, authorizations and challenges. new-order,
// order/ID, order/ID/finalize, authz/ID, chall/ID/TYPE, and the validation of a challenge
// on a validation thread.

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/names.h"
#include "acme/objects.h"
#include "acme/service.h"
#include "acme/service_internal.h"
#include "acme/validation.h"
#include "ca/device.h"
#include "common/log.h"
#include "pki/csr.h"
#include "pki/encoding.h"

namespace scepter::acme {

namespace {

// ---- Views -----------------------------------------------------------------------------

Result<std::vector<Authorization>> load_authorizations(const store::Store& store, const Order& o) {
  std::vector<Authorization> out;
  for (const std::string& id : o.authorizations) {
    ASSIGN_OR_RETURN(AcmeRecord r, store.acme(AcmeKind::kAuthorization, id));
    ASSIGN_OR_RETURN(Authorization a, authorization_from(r));
    out.push_back(std::move(a));
  }
  return out;
}

json order_view(const RequestContext& c, const Order& o, const std::string& status) {
  json ids = json::array();
  for (const Identifier& i : o.identifiers) ids.push_back(identifier_json(i));
  json authz = json::array();
  for (const std::string& id : o.authorizations) authz.push_back(c.authz_url(id));
  json j{{"status", status},
         {"expires", format_iso_time(o.expires)},
         {"identifiers", std::move(ids)},
         {"authorizations", std::move(authz)},
         {"finalize", c.url("order/" + o.id + "/finalize")}};
  if (status == "valid" && !o.certificate.empty()) j["certificate"] = c.url("cert/" + o.id);
  if (o.error) j["error"] = problem_json(*o.error);
  return j;
}

json challenge_view(const RequestContext& c, const Authorization& a, const Challenge& ch) {
  json j{{"type", challenge_type_name(ch.type)},
         {"url", c.url("chall/" + a.id + "/" + challenge_type_name(ch.type))},
         {"token", a.token},
         {"status", ch.status}};
  if (ch.validated) j["validated"] = format_iso_time(*ch.validated);
  if (ch.error) j["error"] = problem_json(*ch.error);
  return j;
}

json authorization_view(const RequestContext& c, const Authorization& a) {
  json challenges = json::array();
  for (const Challenge& ch : a.challenges) challenges.push_back(challenge_view(c, a, ch));
  json j{{"status", authorization_status(a, c.now)},
         {"expires", format_iso_time(a.expires)},
         {"identifier", identifier_json(a.identifier)},
         {"challenges", std::move(challenges)}};
  if (a.wildcard) j["wildcard"] = true;
  return j;
}

ValidationSettings settings_of(const ca::AcmeConfig& cfg) {
  ValidationSettings s;
  s.resolver = cfg.resolver;
  s.http_port = cfg.http_port;
  s.tls_port = cfg.tls_port;
  for (const std::string& p : cfg.connect_prefixes) {
    if (auto prefix = parse_ip_prefix(p)) s.connect_allowed.push_back(*prefix);
  }
  return s;
}

std::vector<ChallengeType> offered(const ca::AcmeConfig& cfg, const Identifier& id, bool wildcard) {
  std::vector<ChallengeType> out;
  if (wildcard) {
    if (cfg.dns01) out.push_back(ChallengeType::kDns01);
    return out;
  }
  if (cfg.http01) out.push_back(ChallengeType::kHttp01);
  if (cfg.dns01 && id.type == "dns") out.push_back(ChallengeType::kDns01);
  if (cfg.tls_alpn01) out.push_back(ChallengeType::kTlsAlpn01);
  return out;
}

}  // namespace

// ---- Orders and authorizations -------------------------------------------------------

AcmeHttpResponse AcmeService::new_order(Context& c) {
  if (!c.payload.is_object())
    return problem_answer(problem("malformed", "newOrder takes a JSON object"));
  if (c.payload.contains("notBefore") || c.payload.contains("notAfter")) {
    return problem_answer(
        problem("malformed",
                "notBefore and notAfter are not taken: the CA sets the validity (acme lifetime)"));
  }
  auto ids = c.payload.find("identifiers");
  if (ids == c.payload.end() || !ids->is_array() || ids->empty() ||
      ids->size() > kMaxOrderIdentifiers) {
    return problem_answer(problem(
        "malformed", fmt::format("an order has 1 to {} identifiers", kMaxOrderIdentifiers)));
  }
  Order o;
  std::vector<Subproblem> refused;
  for (const json& in : *ids) {
    Identifier id;
    if (auto p = check_identifier(in, c.config.acme, id)) {
      if (p->type == "malformed") return problem_answer(*p);
      refused.push_back({Identifier{str(in, "type"), str(in, "value")}, p->type, p->detail});
      continue;
    }
    if (std::find(o.identifiers.begin(), o.identifiers.end(), id) == o.identifiers.end()) {
      o.identifiers.push_back(std::move(id));
    }
  }
  if (!refused.empty()) {
    Problem p = problem(refused.size() == 1 ? refused[0].type : "rejectedIdentifier",
                        refused.size() == 1 ? refused[0].detail : "some identifiers are refused");
    p.subproblems = std::move(refused);
    return problem_answer(p);
  }
  if (!limits_.allow("order " + c.account.id, c.config.acme.orders_per_minute, c.now)) {
    return with_retry_after(
        problem_answer(
            problem("rateLimited", "too many new orders for this account; wait a minute", 429)),
        60);
  }
  o.id = random_id(12);
  o.account = c.account.id;
  o.expires = c.now + std::chrono::duration_cast<Seconds>(kOrderLifetime);
  store::WriteBatch batch;
  for (const Identifier& id : o.identifiers) {
    Authorization a;
    a.id = random_id(12);
    a.account = c.account.id;
    a.wildcard = id.type == "dns" && id.value.starts_with("*.");
    a.identifier = a.wildcard ? Identifier{"dns", id.value.substr(2)} : id;
    a.expires = o.expires;
    a.token = random_id(32);
    for (ChallengeType t : offered(c.config.acme, a.identifier, a.wildcard)) {
      Challenge ch;
      ch.type = t;
      a.challenges.push_back(std::move(ch));
    }
    if (a.challenges.empty()) {
      return problem_answer(problem(
          "rejectedIdentifier", id.value + ": no challenge type this CA offers can validate it"));
    }
    if (a.id.empty() || a.token.empty())
      return problem_answer(server_trouble(internal_error("no random bytes")));
    o.authorizations.push_back(a.id);
    batch.put_acme(to_record(a));
  }
  if (o.id.empty()) return problem_answer(server_trouble(internal_error("no random bytes")));
  batch.put_acme(to_record(o));
  if (Status s = c.store->write(batch); !s.ok()) return problem_answer(server_trouble(s));
  return with_location(json_answer(201, order_view(c, o, "pending")), c.order_url(o.id));
}

std::optional<AcmeHttpResponse> load_order(const RequestContext& c, const std::string& id,
                                           Order& out) {
  return load_owned(c, AcmeKind::kOrder, id, "order", order_from, out);
}

namespace {

// Takes the CA's answer about an order's request into the order.
void apply_outcome(Order& o, const ca::ScepOutcome& outcome) {
  switch (outcome.status) {
    case ca::ScepOutcome::Status::kSuccess:
      o.status = "valid";
      o.certificate = outcome.certificate->serial_hex();
      break;
    case ca::ScepOutcome::Status::kPending:
      o.status = "processing";
      break;
    case ca::ScepOutcome::Status::kFailure:
      o.status = "invalid";
      o.error = problem(
          outcome.fail_info == ca::ScepFailInfo::kBadAlg ? "badCSR" : "rejectedIdentifier",
          outcome.fail_text.empty() ? "the CA refused the request" : outcome.fail_text, 403);
      if (outcome.fail_info == ca::ScepFailInfo::kBadMessageCheck ||
          outcome.fail_info == ca::ScepFailInfo::kBadAlg) {
        o.error->type = "badCSR";
      }
      break;
  }
}

}  // namespace

AcmeHttpResponse AcmeService::order(Context& c, const std::string& id) {
  Order o;
  if (auto answer = load_order(c, id, o)) return *answer;
  if (o.status == "processing") {
    // Waiting for the operator: ask the CA whether it was decided.
    auto outcome = c.server->acme_poll(o.id);
    if (!outcome.has_value()) return problem_answer(server_trouble(outcome.error()));
    if (outcome->status != ca::ScepOutcome::Status::kPending) {
      apply_outcome(o, *outcome);
      store::WriteBatch batch;
      batch.put_acme(to_record(o));
      Status s = c.store->write(batch);
      if (!s.ok() && s.code() != Code::kAborted) return problem_answer(server_trouble(s));
    }
  }
  auto authzs = load_authorizations(*c.store, o);
  if (!authzs.has_value()) return problem_answer(server_trouble(authzs.error()));
  const std::string status = order_status(o, *authzs, c.now);
  AcmeHttpResponse r = json_answer(200, order_view(c, o, status));
  return status == "processing" ? with_retry_after(std::move(r), kRetryAfterSeconds) : r;
}

AcmeHttpResponse AcmeService::finalize(Context& c, const std::string& id) {
  Order o;
  if (auto answer = load_order(c, id, o)) return *answer;
  if (o.status == "processing" || o.status == "valid") return order(c, id);
  auto authzs = load_authorizations(*c.store, o);
  if (!authzs.has_value()) return problem_answer(server_trouble(authzs.error()));
  const std::string status = order_status(o, *authzs, c.now);
  if (status != "ready") {
    return problem_answer(problem("orderNotReady", "the order is " + status + ", not ready", 403));
  }
  if (!c.payload.is_object() || !c.payload.contains("csr") || !c.payload.at("csr").is_string()) {
    return problem_answer(problem("malformed", "finalize carries {\"csr\": base64url DER}"));
  }
  auto der = pki::base64url_decode(c.payload.at("csr").get<std::string>());
  if (!der.has_value()) return problem_answer(problem("badCSR", "the csr is not base64url"));
  auto csr = pki::Csr::parse(*der);
  if (!csr.has_value())
    return problem_answer(problem("badCSR", "the CSR cannot be read: " + csr.error().message()));
  if (auto p = check_csr_names(*csr, o.identifiers)) return problem_answer(*p);
  // The operator may have narrowed the allow-lists since the order was made.
  for (const Identifier& i : o.identifiers) {
    Identifier again;
    if (auto p = check_identifier(identifier_json(i), c.config.acme, again)) {
      return problem_answer(*p);
    }
  }
  auto outcome = c.server->acme_enroll(*csr, o.id, /*validated=*/true);
  if (!outcome.has_value()) {
    return with_retry_after(problem_answer(server_trouble(outcome.error())), kRetryAfterSeconds);
  }
  apply_outcome(o, *outcome);
  store::WriteBatch batch;
  batch.put_acme(to_record(o));
  Status s = c.store->write(batch);
  if (s.code() == Code::kAborted) return order(c, id);  // finalized meanwhile: that stands
  if (!s.ok()) return problem_answer(server_trouble(s));
  if (o.status == "invalid" && o.error) return problem_answer(*o.error);
  AcmeHttpResponse r =
      with_location(json_answer(200, order_view(c, o, o.status)), c.order_url(o.id));
  return o.status == "processing" ? with_retry_after(std::move(r), kRetryAfterSeconds) : r;
}

namespace {

std::optional<AcmeHttpResponse> load_authorization(const RequestContext& c, const std::string& id,
                                                   Authorization& out) {
  return load_owned(c, AcmeKind::kAuthorization, id, "authorization", authorization_from, out);
}

}  // namespace

AcmeHttpResponse AcmeService::authorization(Context& c, const std::string& id) {
  Authorization a;
  if (auto answer = load_authorization(c, id, a)) return *answer;
  if (!c.jws.post_as_get && c.payload.is_object() && !c.payload.empty()) {
    if (str(c.payload, "status") != "deactivated") {
      return problem_answer(
          problem("malformed", "an authorization's status may only become deactivated"));
    }
    a.status = "deactivated";
    store::WriteBatch batch;
    batch.put_acme(to_record(a));
    Status s = c.store->write(batch);
    if (s.code() == Code::kAborted)
      return problem_answer(
          problem("malformed", "the authorization changed meanwhile; ask again", 409));
    if (!s.ok()) return problem_answer(server_trouble(s));
  }
  return json_answer(200, authorization_view(c, a));
}

AcmeHttpResponse AcmeService::challenge(Context& c, const std::string& authz_id,
                                        const std::string& type_name) {
  const std::optional<ChallengeType> type = challenge_type_by_name(type_name);
  Authorization a;
  if (auto answer = load_authorization(c, authz_id, a)) return *answer;
  auto it = std::find_if(a.challenges.begin(), a.challenges.end(),
                         [&](const Challenge& ch) { return type && ch.type == *type; });
  if (it == a.challenges.end())
    return problem_answer(problem("malformed", "no such challenge", 404));
  const bool respond = !c.jws.post_as_get;
  // A validation lost to a stop or a crash leaves its challenge "processing"; after
  // kLostValidationAfter the client may ask for it again.
  const bool lost =
      it->status == "processing" && (!it->started || c.now - *it->started >= kLostValidationAfter);
  if (respond && (it->status == "pending" || lost) && authorization_status(a, c.now) == "pending") {
    {
      MutexLock lock(validation_mu_);
      int& running = validations_by_account_[c.account.id];
      if (running >= kValidationsPerAccount) {
        return with_retry_after(
            problem_answer(problem("rateLimited",
                                   "too many challenges of this account are being validated; wait",
                                   429)),
            kRetryAfterSeconds);
      }
      ++running;
    }
    const Challenge before = *it;
    it->status = "processing";
    it->started = c.now;
    store::WriteBatch batch;
    batch.put_acme(to_record(a));
    Status s = c.store->write(batch);
    auto release = [&] {
      MutexLock lock(validation_mu_);
      if (--validations_by_account_[c.account.id] <= 0) validations_by_account_.erase(c.account.id);
    };
    if (!s.ok()) {
      release();
      if (s.code() == Code::kAborted)
        return problem_answer(
            problem("malformed", "the authorization changed meanwhile; ask again", 409));
      return problem_answer(server_trouble(s));
    }
    ++a.version;
    const ChallengeType t = it->type;
    std::string key_auth = key_authorization(a.token, c.account.thumbprint);
    const bool queued =
        enqueue_validation([this, server = c.server, id = a.id, t, key_auth,
                            settings = settings_of(c.config.acme), account = c.account.id] {
          validate_challenge(server, id, t, key_auth, settings, account);
        });
    if (!queued) {
      release();
      // Put the challenge back so that the client may try again.
      *it = before;
      store::WriteBatch back;
      back.put_acme(to_record(a));
      (void)c.store->write(back);
      return with_retry_after(
          problem_answer(
              problem("serverInternal", "too many validations are waiting; try again", 503)),
          kRetryAfterSeconds);
    }
  }
  AcmeHttpResponse r = json_answer(200, challenge_view(c, a, *it));
  r.headers.emplace_back("Link", "<" + c.authz_url(a.id) + ">;rel=\"up\"");
  return r;
}

void AcmeService::validate_challenge(std::shared_ptr<ca::CertificateServer> server,
                                     std::string authz_id, ChallengeType type, std::string key_auth,
                                     ValidationSettings settings, std::string account_id) {
  auto done = [&] {
    MutexLock lock(validation_mu_);
    if (--validations_by_account_[account_id] <= 0) validations_by_account_.erase(account_id);
  };
  auto store = server->acme_store();
  if (!store.has_value()) {
    done();
    return;
  }
  std::optional<Problem> outcome;
  Identifier identifier;
  std::string token;
  {
    auto record = (*store)->acme(AcmeKind::kAuthorization, authz_id);
    auto a = record.has_value() ? authorization_from(*record)
                                : Result<Authorization>(fail(record.error()));
    if (!a.has_value()) {
      log::warn("ACME: authorization {} cannot be read for validation: {}", authz_id,
                a.error().message());
      done();
      return;
    }
    identifier = a->identifier;
    token = a->token;
  }
  outcome = validate(type, identifier, token, key_auth, settings);
  for (int attempt = 0; attempt < kCasRetries; ++attempt) {
    auto record = (*store)->acme(AcmeKind::kAuthorization, authz_id);
    if (!record.has_value()) break;
    auto a = authorization_from(*record);
    if (!a.has_value()) break;
    auto it = std::find_if(a->challenges.begin(), a->challenges.end(),
                           [&](const Challenge& ch) { return ch.type == type; });
    if (it == a->challenges.end() || it->status != "processing") break;
    const TimePoint now = device_.clock().now();
    if (outcome) {
      it->status = "invalid";
      it->error = *outcome;
      a->status = "invalid";
    } else {
      it->status = "valid";
      it->validated = now;
      a->status = "valid";
      a->expires = now + std::chrono::duration_cast<Seconds>(kValidAuthorizationLifetime);
    }
    store::WriteBatch batch;
    batch.put_acme(to_record(*a));
    Status s = (*store)->write(batch);
    if (s.code() == Code::kAborted) continue;
    if (!s.ok())
      log::warn("ACME: the validation of authorization {} cannot be recorded: {}", authz_id,
                s.message());
    break;
  }
  log::info("ACME: {} of {} {} for account {}: {}", challenge_type_name(type), identifier.type,
            identifier.value, account_id,
            outcome ? outcome->type + ": " + outcome->detail : "valid");
  done();
}

}  // namespace scepter::acme
