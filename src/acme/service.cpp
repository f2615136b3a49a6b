#include "acme/service.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/objects.h"
#include "acme/service_internal.h"
#include "ca/device.h"
#include "common/log.h"
#include "pki/digest.h"
#include "pki/encoding.h"

namespace scepter::acme {

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

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

AcmeHttpResponse with_location(AcmeHttpResponse r, std::string location) {
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

AcmeHttpResponse with_retry_after(AcmeHttpResponse r, int seconds) {
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

namespace {

// A Host header we are willing to put into URLs: a name or address with a port.
bool plausible_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

}  // namespace

// ---- Nonces and rate limits ---------------------------------------------------------

std::string NoncePool::issue() {
  std::string nonce = random_id(16);
  MutexLock lock(mu_);
  // Bounded by what was issued, used or not: used ones stay in order_ until they fall
  // off the front (erasing one from live_ is what uses it).
  if (order_.size() >= kMaxNonces) {
    live_.erase(order_.front());
    order_.pop_front();
  }
  live_.insert(nonce);
  order_.push_back(nonce);
  return nonce;
}

bool NoncePool::consume(const std::string& nonce) {
  MutexLock lock(mu_);
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

}  // namespace scepter::acme
