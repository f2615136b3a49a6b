#pragma once
// The ACME objects a CA keeps (RFC 8555 7.1): accounts, orders and authorizations, as
// stored in the CA's database (store::AcmeRecord bodies, JSON of our own) and as shown
// to clients (the RFC's JSON). Plain values; the service decides their life cycles.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acme/problem.h"
#include "acme/validation.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace scepter::acme {

struct Account {
  std::string id;
  std::string status = "valid";  // "valid", "deactivated", "revoked"
  nlohmann::json key;            // the JWK (required members only)
  std::string thumbprint;
  std::vector<std::string> contact;
  TimePoint created{};
  std::string eab_key_id;  // the EAB key that bound it; empty: none
  std::int64_t version = 0;
};

struct Challenge {
  ChallengeType type = ChallengeType::kHttp01;
  std::string status = "pending";  // "pending", "processing", "valid", "invalid"
  std::optional<TimePoint> validated;
  std::optional<TimePoint> started;  // when it became "processing"
  std::optional<Problem> error;
};

struct Authorization {
  std::string id;
  std::string account;
  Identifier identifier;  // without "*." for a wildcard
  bool wildcard = false;
  std::string status = "pending";  // "pending", "valid", "invalid", "deactivated", "expired"
  TimePoint expires{};
  std::string token;  // one token for the authorization's challenges
  std::vector<Challenge> challenges;
  std::int64_t version = 0;
};

struct Order {
  std::string id;
  std::string account;
  // "pending", "ready", "processing", "valid", "invalid"; "pending" and "ready" follow
  // from the authorizations (the service computes them when it shows the order).
  std::string status = "pending";
  TimePoint expires{};
  std::vector<Identifier> identifiers;  // as asked ("*.example.com" for a wildcard)
  std::vector<std::string> authorizations;
  std::optional<Problem> error;
  std::string certificate;  // the certificate's serial (hex) once valid
  std::int64_t version = 0;
};

store::AcmeRecord to_record(const Account& a);
store::AcmeRecord to_record(const Order& o);
store::AcmeRecord to_record(const Authorization& a);
// kInternal for a body that is not ours (a damaged database).
Result<Account> account_from(const store::AcmeRecord& r);
Result<Order> order_from(const store::AcmeRecord& r);
Result<Authorization> authorization_from(const store::AcmeRecord& r);

// An authorization's status as of `now` (RFC 8555 7.1.6): a pending or valid one past
// its expiry is "expired".
std::string authorization_status(const Authorization& a, TimePoint now);
// An order's status as of `now` (RFC 8555 7.1.6): a stored "pending" order is "ready"
// when all its authorizations are valid, "invalid" when one of them cannot become valid
// or the order expired.
std::string order_status(const Order& o, const std::vector<Authorization>& authzs, TimePoint now);

nlohmann::json problem_json(const Problem& p);
nlohmann::json identifier_json(const Identifier& id);

}  // namespace scepter::acme
