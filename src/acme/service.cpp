#include "acme/service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/names.h"
#include "acme/objects.h"
#include "acme/validation.h"
#include "ca/device.h"
#include "common/log.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/serial_number.h"

namespace scepter::acme {

using nlohmann::json;
using store::AcmeKind;
using store::AcmeRecord;

namespace {

constexpr std::string_view kPrefix = "/acme/";
// How long a pending order and its authorizations live, and a valid authorization.
constexpr auto kOrderLifetime = std::chrono::hours(24 * 7);
constexpr auto kValidAuthorizationLifetime = std::chrono::hours(24 * 30);
// What a client waits before asking again about an order or a challenge in progress.
constexpr int kRetryAfterSeconds = 3;
// Expired records are deleted at most this often.
constexpr std::int64_t kCleanupEverySeconds = 600;
constexpr std::size_t kMaxContacts = 10;
constexpr std::size_t kMaxContactSize = 256;
constexpr std::size_t kMaxListedOrders = 1000;
constexpr std::size_t kMaxAuthorizationsLooked = 5000;
constexpr int kCasRetries = 5;

std::string random_id(std::size_t bytes) {
  auto r = pki::random_bytes(bytes);
  if (!r.has_value()) return {};
  return pki::base64url_encode(*r);
}

AcmeHttpResponse json_answer(int status, const json& body) {
  AcmeHttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

AcmeHttpResponse problem_answer(const Problem& p) {
  AcmeHttpResponse r;
  r.status = p.status;
  r.content_type = "application/problem+json";
  r.body = problem_json(p).dump();
  return r;
}

Problem server_trouble(const Status& s) {
  return problem("serverInternal", "the certificate server cannot answer now: " + s.message(), 503);
}

// A Host header we are willing to put into URLs: a name or address with a port.
bool plausible_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// ---- Nonces and rate limits ---------------------------------------------------------

std::string NoncePool::issue() {
  std::string nonce = random_id(16);
  MutexLock lock(mu_);
  if (live_.size() >= kMaxNonces && !order_.empty()) {
    live_.erase(order_.front());
    order_.pop_front();
  }
  live_.insert(nonce);
  order_.push_back(nonce);
  return nonce;
}

bool NoncePool::consume(const std::string& nonce) {
  MutexLock lock(mu_);
  // Left in order_ until it falls off the front; erasing it from live_ is what counts.
  return live_.erase(nonce) == 1;
}

bool RateLimiter::allow(const std::string& key, int limit, TimePoint now) {
  MutexLock lock(mu_);
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    if (windows_.size() >= kMaxKeys) {
      std::erase_if(windows_, [&](const auto& e) { return now - e.second.start >= Seconds(60); });
      if (windows_.size() >= kMaxKeys) return false;
    }
    it = windows_.emplace(key, Window{now, 0}).first;
  }
  if (now - it->second.start >= Seconds(60)) it->second = Window{now, 0};
  if (it->second.count >= limit) return false;
  ++it->second.count;
  return true;
}

bool is_acme_path(std::string_view path) { return path.starts_with(kPrefix); }

AcmeHttpResponse too_large_answer() {
  return problem_answer(problem("malformed", "the request is too large", 413));
}

// ---- One request ----------------------------------------------------------------------

struct RequestContext {
  const AcmeHttpRequest& request;
  std::string label;
  std::string rest;  // the path after /acme/LABEL/
  std::shared_ptr<ca::CertificateServer> server;
  ca::ServerConfig config;
  std::shared_ptr<store::Store> store = {};
  std::string base = {};  // https://HOST/acme/LABEL/
  TimePoint now{};
  // After a POST's checks:
  Jws jws = {};
  json payload = {};  // the payload as JSON (null for POST-as-GET)
  Account account = {};

  std::string url(std::string_view what) const { return base + std::string(what); }
  std::string account_url(const std::string& id) const { return url("account/" + id); }
  std::string order_url(const std::string& id) const { return url("order/" + id); }
  std::string authz_url(const std::string& id) const { return url("authz/" + id); }
};

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

json account_view(const RequestContext&, const Account& a, const std::string& orders_url) {
  return json{{"status", a.status},
              {"contact", a.contact},
              {"orders", orders_url},
              {"createdAt", format_iso_time(a.created)}};
}

AcmeHttpResponse with_location(AcmeHttpResponse r, std::string location) {
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

AcmeHttpResponse with_retry_after(AcmeHttpResponse r, int seconds) {
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

std::optional<Problem> check_contacts(const json& payload, std::vector<std::string>& out) {
  auto it = payload.find("contact");
  if (it == payload.end()) return std::nullopt;
  if (!it->is_array() || it->size() > kMaxContacts) {
    return problem("malformed",
                   fmt::format("contact is an array of at most {} URLs", kMaxContacts));
  }
  out.clear();
  for (const json& c : *it) {
    if (!c.is_string()) return problem("malformed", "a contact is a URL string");
    std::string s = c.get<std::string>();
    if (!s.starts_with("mailto:")) {
      return problem("unsupportedContact", "only mailto: contacts are taken");
    }
    const std::string address = s.substr(7);
    const bool ok = s.size() <= kMaxContactSize && address.find('@') != std::string::npos &&
                    address.find_first_of(",;?& \t\r\n") == std::string::npos &&
                    address.front() != '@' && address.back() != '@';
    if (!ok) return problem("invalidContact", "not one e-mail address: " + s.substr(0, 64));
    out.push_back(std::move(s));
  }
  return std::nullopt;
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

// ---- The service -------------------------------------------------------------------------

AcmeService::AcmeService(ca::Device& device) : device_(device) {
  for (int i = 0; i < kValidationThreads; ++i) {
    validation_threads_.emplace_back([this] { validation_loop(); });
  }
}

AcmeService::~AcmeService() {
  {
    MutexLock lock(validation_mu_);
    stopping_ = true;
  }
  validation_cv_.notify_all();
  for (std::thread& t : validation_threads_) t.join();
}

bool AcmeService::enqueue_validation(std::function<void()> job) {
  {
    MutexLock lock(validation_mu_);
    if (stopping_ || validation_queue_.size() >= kMaxQueuedValidations) return false;
    validation_queue_.push_back(std::move(job));
  }
  validation_cv_.notify_one();
  return true;
}

void AcmeService::validation_loop() {
  UniqueMutexLock lock(validation_mu_);
  for (;;) {
    while (!stopping_ && validation_queue_.empty()) lock.wait(validation_cv_);
    // Stopping: what waits is dropped (each could take the validation timeout); its
    // challenges stay "processing" and their orders expire.
    if (stopping_) return;
    std::function<void()> job = std::move(validation_queue_.front());
    validation_queue_.pop_front();
    ++validations_running_;
    lock.unlock();
    job();
    lock.lock();
    --validations_running_;
    validation_cv_.notify_all();
  }
}

void AcmeService::drain_validations() {
  UniqueMutexLock lock(validation_mu_);
  while (!validation_queue_.empty() || validations_running_ > 0) lock.wait(validation_cv_);
}

AcmeHttpResponse AcmeService::handle(const AcmeHttpRequest& request) {
  // /acme/LABEL/REST
  std::string_view path = request.path;
  path.remove_prefix(kPrefix.size());
  const std::size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return problem_answer(problem("malformed", "ACME lives at /acme/LABEL/directory", 404));
  }
  const std::string label(path.substr(0, slash));
  auto server = device_.server(label);
  if (!server || server->state() != ca::ServerState::kEnabled || !server->config().acme.enabled) {
    return problem_answer(problem("malformed", "No ACME service is named " + label + ".", 404));
  }
  Context c{.request = request,
            .label = label,
            .rest = std::string(path.substr(slash + 1)),
            .server = server,
            .config = server->config()};
  if (c.config.mode == ca::ServerMode::kRa || c.config.mode == ca::ServerMode::kRaTransparent) {
    return problem_answer(
        problem("malformed",
                "Certificate server " + label + " is an RA: ACME is offered by CAs only.", 404));
  }
  if (!plausible_host(request.host)) {
    return problem_answer(problem("malformed", "the request needs a Host header"));
  }
  c.base = "https://" + request.host + "/acme/" + label + "/";
  c.now = device_.clock().now();
  AcmeHttpResponse r;
  try {
    r = dispatch(c);
  } catch (const std::exception& e) {
    // Nothing here should throw; if a JSON accessor does, the request fails alone.
    log::warn("ACME: request to {} failed: {}", request.path, e.what());
    r = problem_answer(problem("serverInternal", "the request could not be handled", 500));
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Link", "<" + c.url("directory") + ">;rel=\"index\"");
  if (request.method == "POST" || c.rest == "new-nonce") {
    r.headers.emplace_back("Replay-Nonce", nonces_.issue());
  }
  return r;
}

AcmeHttpResponse AcmeService::dispatch(RequestContext& c) {
  const std::string& m = c.request.method;
  const bool get = m == "GET" || m == "HEAD";
  if (c.rest == "directory") {
    if (!get) return problem_answer(problem("malformed", "Use GET.", 405));
    json meta{{"externalAccountRequired", !c.config.acme.eab_keys.empty()}};
    return json_answer(200, {{"newNonce", c.url("new-nonce")},
                             {"newAccount", c.url("new-account")},
                             {"newOrder", c.url("new-order")},
                             {"revokeCert", c.url("revoke-cert")},
                             {"keyChange", c.url("key-change")},
                             {"renewalInfo", c.url("renewal-info")},
                             {"meta", std::move(meta)}});
  }
  if (c.rest == "new-nonce") {
    if (!get && m != "POST") return problem_answer(problem("malformed", "Use HEAD or GET.", 405));
    AcmeHttpResponse r;
    r.status = m == "GET" ? 204 : 200;
    return r;
  }
  if (c.rest.starts_with("renewal-info/")) {
    if (!get) return problem_answer(problem("malformed", "Use GET.", 405));
    return renewal_info(c, c.rest.substr(std::string_view("renewal-info/").size()));
  }
  if (m != "POST") return problem_answer(problem("malformed", "ACME resources take POST.", 405));
  return post(c);
}

AcmeHttpResponse AcmeService::post(Context& c) {
  const AcmeHttpRequest& req = c.request;
  // RFC 8555 6.2: application/jose+json, and nothing larger than we ever need.
  std::string_view type = req.content_type;
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (type != "application/jose+json") {
    return problem_answer(problem("malformed", "Content-Type must be application/jose+json", 415));
  }
  if (req.body.size() > kMaxJwsSize) {
    return problem_answer(problem("malformed", "the request is too large", 413));
  }
  if (auto p = parse_jws(req.body, c.jws)) return problem_answer(*p);
  if (c.jws.url != c.url(c.rest)) {
    return problem_answer(
        problem("unauthorized", "the JWS url header is not this request's URL", 401));
  }
  if (!nonces_.consume(c.jws.nonce)) {
    return problem_answer(problem("badNonce", "the nonce is unknown or was used; take a new one"));
  }
  const bool by_key = c.rest == "new-account" || c.rest == "revoke-cert";
  if (c.jws.jwk && !by_key) {
    return problem_answer(
        problem("malformed", "this resource takes requests signed by an account (kid)"));
  }
  if (!c.jws.jwk && c.rest == "new-account") {
    return problem_answer(
        problem("malformed", "newAccount is signed with the account's key (jwk)"));
  }
  // What follows reads the database and verifies a signature.
  const std::optional<ca::RequestSlot> slot = device_.try_begin_request(*c.server);
  if (!slot) {
    return with_retry_after(
        problem_answer(problem("serverInternal", "the certificate server is busy", 503)),
        kRetryAfterSeconds);
  }
  auto store = c.server->acme_store();
  if (!store.has_value()) return problem_answer(server_trouble(store.error()));
  c.store = std::move(*store);
  maybe_clean_up(c);

  const pki::Key* key = nullptr;
  std::shared_ptr<const Jwk> account_key;
  if (c.jws.jwk) {
    key = &c.jws.jwk->key;
  } else {
    const std::string prefix = c.url("account/");
    if (!c.jws.kid.starts_with(prefix) || c.jws.kid.size() == prefix.size()) {
      return problem_answer(problem("accountDoesNotExist", "the kid is not an account of this CA"));
    }
    const std::string id = c.jws.kid.substr(prefix.size());
    auto record = c.store->acme(AcmeKind::kAccount, id);
    if (!record.has_value()) {
      if (record.error().code() == Code::kNotFound) {
        return problem_answer(problem("accountDoesNotExist", "no account " + id));
      }
      return problem_answer(server_trouble(record.error()));
    }
    auto account = account_from(*record);
    if (!account.has_value()) return problem_answer(server_trouble(account.error()));
    c.account = std::move(*account);
    if (c.account.status != "valid") {
      return problem_answer(problem("unauthorized", "the account is " + c.account.status, 401));
    }
    auto cached = this->account_key(c);
    if (!cached.has_value()) return problem_answer(server_trouble(cached.error()));
    account_key = std::move(*cached);
    key = &account_key->key;
  }
  if (auto p = verify_jws(c.jws, *key)) return problem_answer(*p);
  c.payload = std::move(c.jws.payload_json);

  const std::string& rest = c.rest;
  auto after = [&](std::string_view prefix) { return rest.substr(prefix.size()); };
  if (rest == "new-account") return new_account(c);
  if (rest == "new-order") return new_order(c);
  if (rest == "revoke-cert") return revoke(c);
  if (rest == "key-change") return key_change(c);
  if (rest.starts_with("account/")) {
    std::string id = after("account/");
    const bool orders = id.ends_with("/orders");
    if (orders) id.resize(id.size() - std::string_view("/orders").size());
    return account(c, id, orders);
  }
  if (rest.starts_with("order/")) {
    std::string id = after("order/");
    if (id.ends_with("/finalize")) {
      id.resize(id.size() - std::string_view("/finalize").size());
      return finalize(c, id);
    }
    return order(c, id);
  }
  if (rest.starts_with("authz/")) return authorization(c, after("authz/"));
  if (rest.starts_with("chall/")) {
    const std::string tail = after("chall/");
    const std::size_t slash = tail.find('/');
    if (slash == std::string::npos)
      return problem_answer(problem("malformed", "no such challenge", 404));
    return challenge(c, tail.substr(0, slash), tail.substr(slash + 1));
  }
  if (rest.starts_with("cert/")) return certificate(c, after("cert/"));
  return problem_answer(problem("malformed", "no such resource", 404));
}

Result<std::shared_ptr<const Jwk>> AcmeService::account_key(const Context& c) {
  {
    MutexLock lock(account_keys_mu_);
    auto it = account_keys_.find(c.account.thumbprint);
    if (it != account_keys_.end()) return it->second;
  }
  std::optional<Jwk> parsed;
  if (auto p = parse_jwk(c.account.key, parsed)) {
    return fail(internal_error("stored account key: " + p->detail));
  }
  if (parsed->thumbprint != c.account.thumbprint) {
    return fail(internal_error("stored account key does not match its thumbprint"));
  }
  auto key = std::make_shared<const Jwk>(std::move(*parsed));
  MutexLock lock(account_keys_mu_);
  if (account_keys_.size() >= kMaxCachedAccountKeys) account_keys_.clear();
  account_keys_.emplace(c.account.thumbprint, key);
  return key;
}

void AcmeService::maybe_clean_up(Context& c) {
  {
    MutexLock lock(cleanup_mu_);
    auto [it, first] = last_cleanup_.try_emplace(c.label, c.now);
    if (!first) {
      if (c.now - it->second < Seconds(kCleanupEverySeconds)) return;
      it->second = c.now;
    }
  }
  auto gone = c.store->delete_acme_expired(c.now);
  if (!gone.has_value()) {
    log::warn("certificate server {}: cannot delete expired ACME records: {}", c.label,
              gone.error().message());
  } else if (*gone > 0) {
    log::info("certificate server {}: {} expired ACME records deleted", c.label, *gone);
  }
}

// ---- Accounts ----------------------------------------------------------------------------

AcmeHttpResponse AcmeService::new_account(Context& c) {
  const Jwk& jwk = *c.jws.jwk;
  auto existing = c.store->acme(AcmeKind::kAccountKey, jwk.thumbprint);
  if (existing.has_value()) {
    auto record = c.store->acme(AcmeKind::kAccount, existing->owner);
    if (!record.has_value()) return problem_answer(server_trouble(record.error()));
    auto account = account_from(*record);
    if (!account.has_value()) return problem_answer(server_trouble(account.error()));
    if (account->status != "valid") {
      return problem_answer(
          problem("unauthorized", "the account of this key is " + account->status, 401));
    }
    return with_location(
        json_answer(200, account_view(c, *account, c.account_url(account->id) + "/orders")),
        c.account_url(account->id));
  }
  if (existing.error().code() != Code::kNotFound)
    return problem_answer(server_trouble(existing.error()));
  const auto only_existing =
      c.payload.is_object() ? c.payload.find("onlyReturnExisting") : c.payload.end();
  if (c.payload.is_object() && only_existing != c.payload.end() && *only_existing == true) {
    return problem_answer(problem("accountDoesNotExist", "no account has this key"));
  }
  if (!c.payload.is_object())
    return problem_answer(problem("malformed", "newAccount takes a JSON object"));
  if (!limits_.allow("account " + c.request.peer_address, kNewAccountsPerMinute, c.now)) {
    return with_retry_after(
        problem_answer(
            problem("rateLimited", "too many new accounts from this address; wait a minute", 429)),
        60);
  }
  Account a;
  if (auto p = check_contacts(c.payload, a.contact)) return problem_answer(*p);
  store::WriteBatch batch;
  if (!c.config.acme.eab_keys.empty()) {
    auto eab = c.payload.find("externalAccountBinding");
    if (eab == c.payload.end()) {
      return problem_answer(
          problem("externalAccountRequired",
                  "this CA takes accounts bound to a key its operator gave out (EAB)"));
    }
    const std::optional<std::string> key_id = eab_key_id(*eab);
    auto key = key_id ? c.config.acme.eab_keys.find(*key_id) : c.config.acme.eab_keys.end();
    if (key == c.config.acme.eab_keys.end()) {
      return problem_answer(problem("unauthorized", "unknown external account binding key", 401));
    }
    if (auto p = verify_eab(*eab, *key_id, key->second, c.jws.url, jwk)) return problem_answer(*p);
    a.eab_key_id = *key_id;
    // Each key binds one account: its index entry is taken once.
    batch.put_acme({AcmeKind::kAccountKey, "eab:" + *key_id, "", "{}", TimePoint{}, 0});
  }
  a.id = random_id(12);
  a.key = jwk.json;
  a.thumbprint = jwk.thumbprint;
  a.created = c.now;
  batch.put_acme(to_record(a));
  batch.put_acme({AcmeKind::kAccountKey, jwk.thumbprint, a.id, "{}", TimePoint{}, 0});
  Status s = c.store->write(batch);
  if (s.code() == Code::kAlreadyExists) {
    if (!a.eab_key_id.empty()) {
      auto used = c.store->acme(AcmeKind::kAccountKey, "eab:" + a.eab_key_id);
      if (used.has_value()) {
        return problem_answer(
            problem("unauthorized",
                    "this external account binding key is bound to an account already", 401));
      }
    }
    return problem_answer(
        problem("malformed", "an account was made for this key meanwhile; ask again", 409));
  }
  if (!s.ok()) return problem_answer(server_trouble(s));
  device_.audit().record({"acme-account", "acme from " + c.request.peer_address, c.label,
                          fmt::format("account {} created (key {}{}{})", a.id, a.thumbprint,
                                      a.eab_key_id.empty() ? "" : ", EAB key ", a.eab_key_id),
                          "ok"});
  return with_location(json_answer(201, account_view(c, a, c.account_url(a.id) + "/orders")),
                       c.account_url(a.id));
}

AcmeHttpResponse AcmeService::account(Context& c, const std::string& id, bool orders) {
  if (id != c.account.id) return problem_answer(problem("unauthorized", "not your account", 403));
  if (orders) {
    auto list = c.store->acme_by_owner(AcmeKind::kOrder, id, kMaxListedOrders);
    if (!list.has_value()) return problem_answer(server_trouble(list.error()));
    json urls = json::array();
    for (const AcmeRecord& r : *list) urls.push_back(c.order_url(r.id));
    return json_answer(200, {{"orders", std::move(urls)}});
  }
  Account a = c.account;
  if (!c.jws.post_as_get && c.payload.is_object() && !c.payload.empty()) {
    const std::string status = str(c.payload, "status");
    if (!status.empty() && status != "deactivated" && status != "valid") {
      return problem_answer(
          problem("malformed", "an account's status may only become deactivated"));
    }
    if (auto p = check_contacts(c.payload, a.contact)) return problem_answer(*p);
    if (status == "deactivated") a.status = "deactivated";
    store::WriteBatch batch;
    batch.put_acme(to_record(a));
    Status s = c.store->write(batch);
    if (s.code() == Code::kAborted)
      return problem_answer(problem("malformed", "the account changed meanwhile; ask again", 409));
    if (!s.ok()) return problem_answer(server_trouble(s));
    if (a.status == "deactivated") {
      device_.audit().record({"acme-account", "acme account " + a.id, c.label,
                              "account " + a.id + " deactivated", "ok"});
    }
  }
  return with_location(json_answer(200, account_view(c, a, c.account_url(a.id) + "/orders")),
                       c.account_url(a.id));
}

AcmeHttpResponse AcmeService::key_change(Context& c) {
  if (!c.payload.is_object())
    return problem_answer(problem("malformed", "keyChange carries a JWS"));
  std::optional<Jwk> old_jwk;
  if (auto p = parse_jwk(c.account.key, old_jwk)) {
    return problem_answer(server_trouble(internal_error("stored account key: " + p->detail)));
  }
  const Jwk& old_key = *old_jwk;
  std::optional<Jwk> new_jwk;
  if (auto p =
          verify_key_change(c.payload, c.jws.url, c.account_url(c.account.id), old_key, new_jwk)) {
    return problem_answer(*p);
  }
  const Jwk& new_key = *new_jwk;
  auto taken = c.store->acme(AcmeKind::kAccountKey, new_key.thumbprint);
  if (taken.has_value()) {
    return with_location(problem_answer(problem("malformed", "another account has this key", 409)),
                         c.account_url(taken->owner));
  }
  Account a = c.account;
  a.key = new_key.json;
  a.thumbprint = new_key.thumbprint;
  store::WriteBatch batch;
  batch.put_acme(to_record(a));
  batch.delete_acme(AcmeKind::kAccountKey, old_key.thumbprint);
  batch.put_acme({AcmeKind::kAccountKey, new_key.thumbprint, a.id, "{}", TimePoint{}, 0});
  Status s = c.store->write(batch);
  if (s.code() == Code::kAborted || s.code() == Code::kAlreadyExists) {
    return problem_answer(
        problem("malformed", "the account or the key changed meanwhile; ask again", 409));
  }
  if (!s.ok()) return problem_answer(server_trouble(s));
  device_.audit().record({"acme-account", "acme account " + a.id, c.label,
                          "account " + a.id + " key changed to " + a.thumbprint, "ok"});
  return json_answer(200, account_view(c, a, c.account_url(a.id) + "/orders"));
}

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
  if (!limits_.allow("order " + c.account.id, kNewOrdersPerMinute, c.now)) {
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

namespace {

// The order `id` of the requesting account, or the answer to give instead.
std::optional<AcmeHttpResponse> load_order(const RequestContext& c, const std::string& id,
                                           Order& out) {
  auto record = c.store->acme(AcmeKind::kOrder, id);
  if (!record.has_value()) {
    if (record.error().code() == Code::kNotFound) {
      return problem_answer(problem("malformed", "no such order", 404));
    }
    return problem_answer(server_trouble(record.error()));
  }
  auto order = order_from(*record);
  if (!order.has_value()) return problem_answer(server_trouble(order.error()));
  if (order->account != c.account.id)
    return problem_answer(problem("unauthorized", "not your order", 403));
  out = std::move(*order);
  return std::nullopt;
}

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
  auto record = c.store->acme(AcmeKind::kAuthorization, id);
  if (!record.has_value()) {
    if (record.error().code() == Code::kNotFound) {
      return problem_answer(problem("malformed", "no such authorization", 404));
    }
    return problem_answer(server_trouble(record.error()));
  }
  auto a = authorization_from(*record);
  if (!a.has_value()) return problem_answer(server_trouble(a.error()));
  if (a->account != c.account.id)
    return problem_answer(problem("unauthorized", "not your authorization", 403));
  out = std::move(*a);
  return std::nullopt;
}

// Whether the account of `c` holds a valid authorization for every name `cert`
// certifies (RFC 8555 7.6); false for a certificate naming anything ACME cannot
// authorize, or nothing. Looks at no more than kMaxAuthorizationsLooked of the
// account's authorizations.
Result<bool> holds_authorizations_for(const RequestContext& c, const pki::Certificate& cert) {
  auto names = certificate_identifiers(cert);
  if (!names) return false;
  std::set<std::string> missing(names->begin(), names->end());
  ASSIGN_OR_RETURN(
      std::vector<AcmeRecord> records,
      c.store->acme_by_owner(AcmeKind::kAuthorization, c.account.id, kMaxAuthorizationsLooked));
  for (const AcmeRecord& r : records) {
    auto a = authorization_from(r);
    if (!a.has_value() || authorization_status(*a, c.now) != "valid") continue;
    missing.erase(identifier_name(a->identifier, a->wildcard));
  }
  return missing.empty();
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

// ---- Certificates ----------------------------------------------------------------------

AcmeHttpResponse AcmeService::certificate(Context& c, const std::string& order_id) {
  Order o;
  if (auto answer = load_order(c, order_id, o)) return *answer;
  if (o.status != "valid" || o.certificate.empty()) {
    return problem_answer(problem("malformed", "the order has no certificate", 404));
  }
  auto serial = pki::SerialNumber::from_hex(o.certificate);
  if (!serial) return problem_answer(server_trouble(internal_error("stored serial is unreadable")));
  auto cert = c.server->certificate_by_serial(*serial);
  if (!cert.has_value()) return problem_answer(server_trouble(cert.error()));
  auto chain = c.server->ca_chain();
  if (!chain.has_value()) return problem_answer(server_trouble(chain.error()));
  AcmeHttpResponse r;
  r.status = 200;
  r.content_type = "application/pem-certificate-chain";
  r.body = cert->pem();
  for (const pki::Certificate& ca : *chain) r.body += ca.pem();
  return r;
}

AcmeHttpResponse AcmeService::revoke(Context& c) {
  if (!c.payload.is_object() || !c.payload.contains("certificate") ||
      !c.payload.at("certificate").is_string()) {
    return problem_answer(
        problem("malformed", "revokeCert carries {\"certificate\": base64url DER}"));
  }
  std::optional<int> reason;
  if (c.payload.contains("reason")) {
    const json& r = c.payload.at("reason");
    const std::int64_t code = r.is_number_integer() ? r.get<std::int64_t>() : -1;
    if (code < 0 || code > 10 || !store::is_crl_reason(static_cast<int>(code)) || code == 8) {
      return problem_answer(
          problem("badRevocationReason", "the reason is not a CRLReason a CA may give"));
    }
    reason = static_cast<int>(code);
  }
  auto der = pki::base64url_decode(c.payload.at("certificate").get<std::string>());
  if (!der.has_value())
    return problem_answer(problem("malformed", "the certificate is not base64url"));
  auto cert = pki::Certificate::from_der(*der);
  if (!cert.has_value())
    return problem_answer(problem("malformed", "the certificate cannot be read"));
  auto serial = cert->serial();
  if (!serial.has_value())
    return problem_answer(problem("malformed", "the certificate's serial is not one of this CA's"));
  auto ours = c.server->certificate_by_serial(*serial);
  if (!ours.has_value() || ours->der() != cert->der()) {
    if (ours.has_value() || ours.error().code() == Code::kNotFound) {
      return problem_answer(problem("malformed", "this CA did not issue the certificate", 404));
    }
    return problem_answer(server_trouble(ours.error()));
  }
  // Who may revoke (RFC 8555 7.6): the certificate's key; for a certificate issued over
  // ACME, also the account whose order it was, or an account holding valid
  // authorizations for every name it certifies. (A certificate from SCEP or EST is its
  // device's: only its key or the operator revokes it.)
  bool allowed = false;
  if (c.jws.jwk) {
    auto key = cert->public_key();
    allowed = key.has_value() && key->equals_public(c.jws.jwk->key);
  } else {
    auto record = c.server->stored_certificate(serial->sequence);
    if (!record.has_value()) return problem_answer(server_trouble(record.error()));
    bool from_acme = false;
    if (record->request_id != 0) {
      auto request = c.store->request(record->request_id);
      const std::string prefix = ca::acme_transaction("");
      if (request.has_value() && request->transaction_id.starts_with(prefix)) {
        from_acme = true;
        auto order = c.store->acme(AcmeKind::kOrder, request->transaction_id.substr(prefix.size()));
        allowed = order.has_value() && order->owner == c.account.id;
      }
    }
    if (from_acme && !allowed) {
      auto holds = holds_authorizations_for(c, *cert);
      if (!holds.has_value()) return problem_answer(server_trouble(holds.error()));
      allowed = *holds;
    }
  }
  if (!allowed) {
    return problem_answer(problem("unauthorized",
                                  "only the certificate's key, the account that ordered it or one "
                                  "with valid authorizations for all its names may revoke it",
                                  403));
  }
  Status s = c.server->revoke(*serial, reason);
  if (s.code() == Code::kAlreadyExists)
    return problem_answer(problem("alreadyRevoked", "the certificate is revoked already"));
  if (s.code() == Code::kInvalidArgument)
    return problem_answer(problem("badRevocationReason", s.message()));
  if (!s.ok()) return problem_answer(server_trouble(s));
  const std::string actor =
      c.jws.jwk ? std::string("acme by certificate key") : "acme account " + c.account.id;
  device_.audit().record({"revoke", actor, c.label,
                          fmt::format("certificate 0x{}{}", serial->hex(),
                                      reason ? fmt::format(" reason {}", *reason) : ""),
                          "ok"});
  AcmeHttpResponse r;
  r.status = 200;
  return r;
}

AcmeHttpResponse AcmeService::renewal_info(Context& c, std::string_view cert_id) {
  // RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(serial's DER content).
  const std::size_t dot = cert_id.find('.');
  if (dot == std::string_view::npos)
    return problem_answer(problem("malformed", "a certID is AKI.serial"));
  auto aki = pki::base64url_decode(cert_id.substr(0, dot));
  auto serial_bytes = pki::base64url_decode(cert_id.substr(dot + 1));
  if (!aki.has_value() || !serial_bytes.has_value()) {
    return problem_answer(problem("malformed", "a certID is two base64url parts"));
  }
  auto serial = pki::SerialNumber::from_integer_content(*serial_bytes);
  if (!serial.has_value())
    return problem_answer(problem("malformed", "the serial cannot be read", 404));
  auto record = c.server->stored_certificate(serial->sequence);
  if (!record.has_value()) {
    if (record.error().code() == Code::kNotFound)
      return problem_answer(problem("malformed", "no such certificate", 404));
    return problem_answer(server_trouble(record.error()));
  }
  auto cert = pki::Certificate::from_der(record->der);
  if (!cert.has_value()) return problem_answer(server_trouble(cert.error()));
  // The certID names this certificate: the key that signed it and all of its serial.
  auto cert_serial = cert->serial();
  if (cert->authority_key_id() != *aki || !cert_serial.has_value() ||
      cert_serial->entropy != serial->entropy) {
    return problem_answer(problem("malformed", "no such certificate", 404));
  }
  auto chain = c.server->ca_chain();
  if (!chain.has_value()) return problem_answer(server_trouble(chain.error()));
  const pki::Certificate& current = chain->front();
  const std::optional<pki::Certificate> shadow = c.server->rollover_certificate();
  const bool by_current_key = *aki == current.subject_key_id();
  const bool by_shadow_key = shadow && *aki == shadow->subject_key_id();
  const RenewalWindow w = renewal_window(*record, by_current_key || by_shadow_key,
                                         by_current_key && (shadow || c.config.auto_rollover_days)
                                             ? std::optional<TimePoint>(current.not_after())
                                             : std::nullopt,
                                         c.now);
  AcmeHttpResponse r =
      json_answer(200, {{"suggestedWindow",
                         {{"start", format_iso_time(w.start)}, {"end", format_iso_time(w.end)}}}});
  return with_retry_after(std::move(r), static_cast<int>(w.retry_after.count()));
}

RenewalWindow renewal_window(const store::CertRecord& cert, bool by_a_live_key,
                             std::optional<TimePoint> switch_at, TimePoint now) {
  RenewalWindow w;
  if (cert.revoked_at || !by_a_live_key) {
    // Revoked, or signed by a key the CA has rolled over from: renew now (a window in
    // the past, RFC 9773 4.2).
    w.start = now - Seconds(3600);
    w.end = now - Seconds(1);
  } else if (switch_at && cert.not_after >= *switch_at) {
    // Cut short by the end of the CA certificate, which the rollover certificate takes
    // over from: until then the CA can only issue certificates ending at the same
    // moment, so the window opens at the switch, kept short because the certificate
    // ends there. Asked again by the switch at the latest.
    w.start = *switch_at;
    w.end = *switch_at + kSwitchRenewalWindow;
    w.retry_after = std::clamp(std::chrono::duration_cast<Seconds>(*switch_at - now), Seconds(60),
                               w.retry_after);
  } else {
    // The last third of the validity, ending a ninth before expiry.
    const auto life = cert.not_after - cert.not_before;
    w.start = cert.not_before + life * 2 / 3;
    w.end = cert.not_after - life / 9;
  }
  return w;
}

}  // namespace scepter::acme
