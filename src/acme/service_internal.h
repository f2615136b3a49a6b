#pragma once
// Internal to acme/service*.cpp (include it nowhere else): what the files of AcmeService
// share. service.cpp holds nonces, rate limits, the validation threads and the transport
// (handle, dispatch, the JWS checks of post); service_accounts.cpp the accounts;
// service_orders.cpp orders, authorizations, challenges and their validation;
// service_certificates.cpp certificate download, revocation and renewal information.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/objects.h"
#include "acme/problem.h"
#include "acme/service.h"
#include "ca/server_config.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace scepter::acme {

using nlohmann::json;
using store::AcmeKind;
using store::AcmeRecord;

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

// ---- Answers ----------------------------------------------------------------------------

// base64url of `bytes` random bytes; empty when there are none to be had.
std::string random_id(std::size_t bytes);
AcmeHttpResponse json_answer(int status, const json& body);
AcmeHttpResponse problem_answer(const Problem& p);
// The database or the CA cannot answer: 503 serverInternal.
Problem server_trouble(const Status& s);
// The string member `key` of `j`; empty when it is missing or not a string.
std::string str(const json& j, const char* key);
AcmeHttpResponse with_location(AcmeHttpResponse r, std::string location);
AcmeHttpResponse with_retry_after(AcmeHttpResponse r, int seconds);

// The record `id` of `kind`, as `from` reads it, when it belongs to the requesting
// account; otherwise the answer to give instead (404 for none, 403 for another
// account's, 503 for a database that cannot answer). `what` names it in the answer.
template <class T>
std::optional<AcmeHttpResponse> load_owned(const RequestContext& c, AcmeKind kind,
                                           const std::string& id, const char* what,
                                           Result<T> (*from)(const AcmeRecord&), T& out) {
  auto record = c.store->acme(kind, id);
  if (!record.has_value()) {
    if (record.error().code() == Code::kNotFound) {
      return problem_answer(problem("malformed", std::string("no such ") + what, 404));
    }
    return problem_answer(server_trouble(record.error()));
  }
  auto object = from(*record);
  if (!object.has_value()) return problem_answer(server_trouble(object.error()));
  if (object->account != c.account.id) {
    return problem_answer(problem("unauthorized", std::string("not your ") + what, 403));
  }
  out = std::move(*object);
  return std::nullopt;
}

// The order `id` of the requesting account, or the answer to give instead.
std::optional<AcmeHttpResponse> load_order(const RequestContext& c, const std::string& id,
                                           Order& out);

}  // namespace scepter::acme
