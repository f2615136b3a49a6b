#include "ca/accounts.h"

#include "pki/password_hash.h"

namespace scepter::ca {
namespace {

// What an unknown name is checked against, so that it costs what a known one does.
const std::string& decoy_secret() {
  static const std::string secret = [] {
    auto made = pki::type9_hash("scepter decoy password");
    return made.has_value() ? *made : std::string();
  }();
  return secret;
}

}  // namespace

Role role_for_privilege(int privilege) {
  if (privilege >= kMaxPrivilege) return Role::kAdministrator;
  if (privilege > kMinPrivilege) return Role::kOperator;
  return Role::kReadOnly;
}

const char* role_name(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "read-only";
    case Role::kOperator:
      return "operator";
    case Role::kAdministrator:
      return "administrator";
  }
  return "read-only";
}

bool valid_account_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxAccountNameLength) return false;
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == ':') return false;
  }
  return true;
}

std::optional<Account> Accounts::find(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = accounts_.find(name);
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

std::vector<Account> Accounts::list() const {
  MutexLock lock(mu_);
  std::vector<Account> out;
  out.reserve(accounts_.size());
  for (const auto& [name, account] : accounts_) out.push_back(account);
  return out;
}

Status Accounts::set(Account account) {
  if (!valid_account_name(account.name)) {
    return invalid_argument("an account name has 1 to 64 printable characters, no space or ':'");
  }
  if (account.privilege < kMinPrivilege || account.privilege > kMaxPrivilege) {
    return invalid_argument("the privilege level is 1 to 15");
  }
  if (!account.secret.empty() && !pki::is_type9(account.secret)) {
    return invalid_argument("not a type 9 secret");
  }
  if (!account.certificate_sha256.empty() &&
      (account.certificate_sha256.size() != 64 ||
       account.certificate_sha256.find_first_not_of("0123456789ABCDEF") != std::string::npos)) {
    return invalid_argument("a SHA-256 fingerprint has 64 hex digits");
  }
  if (account.secret.empty() && account.certificate_sha256.empty()) {
    return invalid_argument("an account needs a secret or a certificate");
  }
  MutexLock lock(mu_);
  auto it = accounts_.find(account.name);
  // A new password starts afresh; a new privilege level alone does not unlock.
  if (it != accounts_.end() && it->second.secret != account.secret) {
    failures_.erase(account.name);
  }
  accounts_[account.name] = std::move(account);
  return ok_status();
}

bool Accounts::remove(const std::string& name) {
  MutexLock lock(mu_);
  failures_.erase(name);
  return accounts_.erase(name) > 0;
}

std::optional<int> Accounts::max_fail() const {
  MutexLock lock(mu_);
  return max_fail_;
}

void Accounts::set_max_fail(std::optional<int> n) {
  MutexLock lock(mu_);
  max_fail_ = n;
}

bool Accounts::locked_now(Failures& f, TimePoint now) const {
  if (!f.locked) return false;
  if (f.until && now >= *f.until) {
    f = {};
    return false;
  }
  return true;
}

Accounts::Check Accounts::check_password(const std::string& name, std::string_view password) {
  std::string secret;
  {
    MutexLock lock(mu_);
    auto it = accounts_.find(name);
    if (it != accounts_.end()) {
      auto f = failures_.find(name);
      if (f != failures_.end() && locked_now(f->second, clock_.now())) {
        return {Verdict::kLocked, std::nullopt, f->second.until};
      }
      secret = it->second.secret;
    }
  }
  if (checking_.exchange(true)) return {Verdict::kBusy, std::nullopt, std::nullopt};
  const bool known = !secret.empty();
  const bool matches = pki::type9_verify(password, known ? secret : decoy_secret()) && known;
  checking_.store(false);
  if (!known) return {};

  MutexLock lock(mu_);
  auto it = accounts_.find(name);
  // The account may have changed meanwhile: only the secret that was checked counts.
  if (it == accounts_.end() || it->second.secret != secret) return {};
  if (matches) {
    failures_.erase(name);
    return {Verdict::kOk, it->second, std::nullopt};
  }
  Failures& f = failures_[name];
  if (f.locked) return {Verdict::kLocked, std::nullopt, f.until};  // locked meanwhile
  ++f.count;
  const int limit = max_fail_.value_or(kDefaultMaxFail);
  if (f.count >= limit) {
    f.locked = true;
    if (max_fail_) {
      f.until.reset();
    } else {
      f.until = clock_.now() + kDefaultLockout;
    }
  }
  return {};
}

std::optional<Account> Accounts::by_certificate(std::string_view sha256_hex) const {
  if (sha256_hex.empty()) return std::nullopt;
  MutexLock lock(mu_);
  for (const auto& [name, account] : accounts_) {
    if (account.certificate_sha256 == sha256_hex) return account;
  }
  return std::nullopt;
}

std::vector<Accounts::Lockout> Accounts::lockouts() const {
  MutexLock lock(mu_);
  std::vector<Lockout> out;
  const TimePoint now = clock_.now();
  for (auto& [name, f] : failures_) {
    if (locked_now(f, now)) out.push_back({name, f.count, f.until});
  }
  return out;
}

int Accounts::clear_lockout(const std::optional<std::string>& name) {
  MutexLock lock(mu_);
  const TimePoint now = clock_.now();
  int cleared = 0;
  for (auto it = failures_.begin(); it != failures_.end();) {
    if (name && it->first != *name) {
      ++it;
      continue;
    }
    if (locked_now(it->second, now)) ++cleared;
    it = failures_.erase(it);
  }
  return cleared;
}

}  // namespace scepter::ca
