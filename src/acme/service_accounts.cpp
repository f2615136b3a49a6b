// AcmeService (service.h): accounts. new-account (EAB when the CA asks for it),
// account/ID (contacts, deactivation, its orders) and key-change.

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/objects.h"
#include "acme/service.h"
#include "acme/service_internal.h"
#include "ca/device.h"

namespace scepter::acme {

namespace {

json account_view(const RequestContext&, const Account& a, const std::string& orders_url) {
  return json{{"status", a.status},
              {"contact", a.contact},
              {"orders", orders_url},
              {"createdAt", format_iso_time(a.created)}};
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

}  // namespace

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
  if (!limits_.allow("account " + c.label + " " + c.request.peer_address,
                     c.config.acme.accounts_per_minute, c.now)) {
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

}  // namespace scepter::acme
