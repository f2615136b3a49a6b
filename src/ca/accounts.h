#pragma once
// The device's local accounts, as IOS keeps them: `username NAME privilege LEVEL secret
// [0|9] PASSWORD`, the password kept only as a type 9 secret (pki/password_hash.h), and
// `aaa local authentication attempts max-fail N`. They log in to the REST API and the web
// console (api/); the shell is reached through the control socket, whose file mode decides
// who may use it.
//
// The level decides the role: 1 reads (every `show` of the API), 2 to 14 operate (grant,
// reject, remove, revoke, one-time passwords), 15 administers (the same today; accounts
// and configuration stay with the shell).
//
// Wrong passwords lock an account. With `aaa local authentication attempts max-fail N`,
// as on IOS: after N wrong passwords in a row the account stays locked until `clear aaa
// local user lockout`. Without it (IOS then never locks), Scepter locks the account for
// kDefaultLockout after kDefaultMaxFail wrong passwords in a row, so that a password cannot
// be guessed at the speed of the network, nor an account locked for good by whoever can
// reach the login.
//
// A check costs an scrypt computation. An unknown name costs the same (so that timing
// does not tell which names exist) but leaves nothing behind; a locked account costs
// nothing. At most one check runs at a time in the whole device: a flood of logins takes
// one core, never both, and the others are refused at once (kBusy).
//
// Thread safety: every method may be called from any thread.

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace scepter::ca {

enum class Role { kReadOnly, kOperator, kAdministrator };
Role role_for_privilege(int privilege);
const char* role_name(Role role);  // "read-only", "operator", "administrator"

inline constexpr int kMinPrivilege = 1, kMaxPrivilege = 15;
inline constexpr int kDefaultMaxFail = 5;
inline constexpr std::chrono::minutes kDefaultLockout{5};
inline constexpr std::size_t kMaxAccountNameLength = 64;

struct Account {
  std::string name;
  int privilege = kMinPrivilege;
  std::string secret;  // "$9$..."; empty: no password login
  // `username NAME certificate sha256 HEX`: the SHA-256 fingerprint (upper-case hex) of
  // the one client certificate that logs in as this account, besides or instead of the
  // password. It must also be a valid, unrevoked certificate of one of this device's CAs.
  // The name is not taken from the certificate: whoever may enrol (by SCEP, perhaps
  // granted automatically) could otherwise ask for an operator's name.
  std::string certificate_sha256;
};

// Whether `name` may name an account: 1 to 64 printable ASCII characters, no space and no
// ':' (HTTP Basic would split there).
bool valid_account_name(std::string_view name);

class Accounts {
 public:
  explicit Accounts(const Clock& clock) : clock_(clock) {}

  std::optional<Account> find(const std::string& name) const;
  std::vector<Account> list() const;  // by name
  // Adds or replaces an account. kInvalidArgument for a bad name, level, secret or
  // fingerprint, or an account with neither a secret nor a certificate.
  Status set(Account account);
  // False when there was no such account. Its lockout goes with it.
  bool remove(const std::string& name);

  // `aaa local authentication attempts max-fail N`; nullopt: not configured.
  std::optional<int> max_fail() const;
  void set_max_fail(std::optional<int> n);

  enum class Verdict {
    kOk,
    kWrong,   // wrong password, or no such account
    kLocked,  // the account is locked; nothing was checked
    kBusy,    // another check is running; nothing was checked
  };
  struct Check {
    Verdict verdict = Verdict::kWrong;
    std::optional<Account> account;  // kOk
    // kLocked: when the lock ends (nullopt: not before `clear aaa local user lockout`).
    std::optional<TimePoint> locked_until;
  };
  Check check_password(const std::string& name, std::string_view password);
  // The account whose certificate has SHA-256 fingerprint `sha256_hex` (upper-case), if
  // any. Locks do not apply (a certificate is not guessed).
  std::optional<Account> by_certificate(std::string_view sha256_hex) const;

  struct Lockout {
    std::string name;
    int failures = 0;                       // wrong passwords in a row
    std::optional<TimePoint> locked_until;  // nullopt: until cleared
  };
  // Accounts locked now, by name.
  std::vector<Lockout> lockouts() const;
  // `clear aaa local user lockout username NAME | all`: how many locks were lifted.
  int clear_lockout(const std::optional<std::string>& name);

 private:
  struct Failures {
    int count = 0;
    bool locked = false;
    std::optional<TimePoint> until;  // a temporary lock's end
  };
  // Whether `f` keeps the account locked at `now` (a temporary lock that ended is lifted).
  bool locked_now(Failures& f, TimePoint now) const REQUIRES(mu_);

  const Clock& clock_;
  mutable Mutex mu_;
  std::map<std::string, Account> accounts_ GUARDED_BY(mu_);
  mutable std::map<std::string, Failures> failures_ GUARDED_BY(mu_);  // existing accounts only
  std::optional<int> max_fail_ GUARDED_BY(mu_);
  // Set while an scrypt runs: one check at a time.
  std::atomic<bool> checking_{false};
};

}  // namespace scepter::ca
