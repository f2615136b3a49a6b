#pragma once
// The device's PKCS#11 tokens: `crypto pki token NAME module PATH [slot N] [label LABEL]
// user-pin PIN` (scepterd's command; IOS names its USB tokens usbtoken0: and logs in with
// `crypto pki token ... user-pin`). A configured token is logged in at once and again
// whenever asked for after a failure; its keys are what `crypto key generate rsa ... on
// NAME:` made there (see KeyStore for how the key store keeps them).
//
// A token that cannot be opened (module missing, no such token, wrong PIN) stays
// configured with the reason, as IOS keeps the line of a token that is not inserted:
// `show crypto pki token` reports it, and the keys on it are unavailable until it opens.
//
// Thread-safe. Lock order: the registry's lock is taken alone (the key store calls in
// through its resolver without holding its own lock).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ca/keystore.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pki/token.h"

namespace scepter::ca {

struct TokenConfig {
  std::string name;  // without the colon: "token0"
  std::string module;
  std::optional<std::uint64_t> slot = std::nullopt;
  std::string label = {};
  std::string pin = {};
};

struct TokenState {
  TokenConfig config;
  std::shared_ptr<pki::Token> token;  // null while it cannot be opened
  std::string error;                  // why not, when token is null
  // Whether open() may log in again by itself: not after the token refused the PIN
  // (tokens lock the PIN after a few wrong ones), only after a new configuration.
  bool may_retry = true;
  std::chrono::steady_clock::time_point last_attempt = {};
};

class TokenRegistry {
 public:
  // Installs itself as `keys`'s resolver of token keys.
  explicit TokenRegistry(KeyStore& keys);
  ~TokenRegistry();
  TokenRegistry(const TokenRegistry&) = delete;
  TokenRegistry& operator=(const TokenRegistry&) = delete;

  // Token names: 1-32 of [A-Za-z0-9_-], not a file system's name (nvram, flash, ...).
  static Status check_name(const std::string& name);

  // Adds or replaces a token's configuration and logs in to it. The configuration is kept
  // even when that fails; the returned status says how the login went.
  Status configure(TokenConfig config);
  // `no crypto pki token NAME`. kNotFound if not configured. Keys on it stay in the key
  // store, unavailable, until a token of that name is configured again.
  Status remove(const std::string& name);

  std::vector<TokenState> list() const;  // sorted by name
  std::optional<TokenState> get(const std::string& name) const;
  // The open token `name`, logging in again first if it was not open (a token plugged
  // back in, a module installed since). kNotFound when not configured, else the reason
  // it cannot be opened. Automatic logins are spaced by kRetryInterval, and never
  // repeated after a wrong or locked PIN: only configure() tries a PIN again.
  Result<std::shared_ptr<pki::Token>> open(const std::string& name);
  static constexpr std::chrono::seconds kRetryInterval{2};
  // A token operation failed (removed, unreadable): forget the session, so that the
  // next open() logs in afresh, and make the key store ask for its keys again.
  void mark_failed(const std::string& name, const std::string& why);

 private:
  Result<pki::Key> find_key(const std::string& device, const std::string& label);

  KeyStore& keys_;
  mutable Mutex mu_;
  std::map<std::string, TokenState> tokens_ GUARDED_BY(mu_);
};

}  // namespace scepter::ca
