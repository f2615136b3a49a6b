#include "ca/tokens.h"

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "common/log.h"

namespace scepter::ca {

namespace {

// Names that `on NAME:` could confuse with a file system of the device.
constexpr std::array<std::string_view, 6> kReserved = {"nvram", "flash", "system",
                                                       "tftp",  "ftp",   "http"};

pki::TokenSpec spec_of(const TokenConfig& c) {
  return pki::TokenSpec{
      .name = c.name, .module = c.module, .slot = c.slot, .label = c.label, .pin = c.pin};
}

}  // namespace

TokenRegistry::TokenRegistry(KeyStore& keys) : keys_(keys) {
  keys_.set_token_resolver([this](const std::string& device, const std::string& label) {
    return find_key(device, label);
  });
}

TokenRegistry::~TokenRegistry() { keys_.set_token_resolver({}); }

Status TokenRegistry::check_name(const std::string& name) {
  if (name.empty() || name.size() > 32) {
    return invalid_argument("a token name is 1 to 32 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return invalid_argument("a token name is letters, digits, '_' and '-'");
  }
  for (std::string_view r : kReserved) {
    if (name == r) return invalid_argument(name + ": is a file system, not a token");
  }
  return ok_status();
}

Status TokenRegistry::configure(TokenConfig config) {
  RETURN_IF_ERROR(check_name(config.name));
  const std::string name = config.name;
  {
    // libp11 0.4 closes every session of a slot when one of its contexts lets the slot go,
    // and finalises the module when it unloads it: two contexts on one module would log
    // each other out, over and over. One token per module, then.
    MutexLock lock(mu_);
    for (const auto& [other, state] : tokens_) {
      if (other != name && state.config.module == config.module) {
        return already_exists(fmt::format(
            "token {}: the module {} is already used by token {}; a PKCS#11 module serves one "
            "token here (remove that one first: no crypto pki token {})",
            name, config.module, other, other));
      }
    }
    // The same token configured again: the old session goes first (its context's end would
    // close the new one's sessions).
    auto it = tokens_.find(name);
    if (it != tokens_.end()) it->second.token.reset();
  }
  keys_.forget_token_keys(name);
  // Logged in without the lock: a slow module does not hold up the other tokens.
  Result<std::shared_ptr<pki::Token>> opened = pki::Token::open(spec_of(config));
  {
    MutexLock lock(mu_);
    TokenState& state = tokens_[name];
    state.config = std::move(config);
    state.token = opened.has_value() ? *opened : nullptr;
    state.error = opened.has_value() ? std::string() : opened.error().message();
    state.may_retry = opened.has_value() || opened.error().code() != Code::kPermissionDenied;
    state.last_attempt = std::chrono::steady_clock::now();
  }
  // Keys found on the token as it was configured before are forgotten: the new
  // configuration may name another token.
  keys_.forget_token_keys(name);
  if (!opened.has_value()) {
    log::warn("{}", opened.error().message());
    return opened.error();
  }
  log::info("token {}: logged in", name);
  return ok_status();
}

Status TokenRegistry::remove(const std::string& name) {
  {
    MutexLock lock(mu_);
    if (tokens_.erase(name) == 0) return not_found("no token named " + name);
  }
  keys_.forget_token_keys(name);
  return ok_status();
}

std::vector<TokenState> TokenRegistry::list() const {
  MutexLock lock(mu_);
  std::vector<TokenState> out;
  for (const auto& [name, state] : tokens_) out.push_back(state);
  return out;
}

std::optional<TokenState> TokenRegistry::get(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = tokens_.find(name);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

Result<std::shared_ptr<pki::Token>> TokenRegistry::open(const std::string& name) {
  TokenConfig config;
  {
    MutexLock lock(mu_);
    auto it = tokens_.find(name);
    if (it == tokens_.end()) return fail(not_found("no token named " + name + " is configured"));
    if (it->second.token) return it->second.token;
    const auto now = std::chrono::steady_clock::now();
    if (!it->second.may_retry || now - it->second.last_attempt < kRetryInterval) {
      return fail(unavailable(it->second.error));
    }
    it->second.last_attempt = now;
    config = it->second.config;
  }
  Result<std::shared_ptr<pki::Token>> opened = pki::Token::open(spec_of(config));
  MutexLock lock(mu_);
  auto it = tokens_.find(name);
  // Reconfigured or removed meanwhile: what is there now decides.
  if (it == tokens_.end()) return fail(not_found("no token named " + name + " is configured"));
  if (it->second.token) return it->second.token;
  if (it->second.config.module != config.module || it->second.config.pin != config.pin ||
      it->second.config.label != config.label || it->second.config.slot != config.slot) {
    return fail(unavailable("token " + name + " was reconfigured meanwhile"));
  }
  if (!opened.has_value()) {
    it->second.error = opened.error().message();
    it->second.may_retry = opened.error().code() != Code::kPermissionDenied;
    return opened;
  }
  log::info("token {}: logged in again", name);
  it->second.token = *opened;
  it->second.error.clear();
  return opened;
}

void TokenRegistry::mark_failed(const std::string& name, const std::string& why) {
  {
    MutexLock lock(mu_);
    auto it = tokens_.find(name);
    if (it == tokens_.end()) return;
    it->second.token.reset();
    it->second.error = why;
    it->second.last_attempt = {};  // the first retry may come at once
  }
  log::warn("token {}: {}", name, why);
  keys_.forget_token_keys(name);
}

Result<pki::Key> TokenRegistry::find_key(const std::string& device, const std::string& label) {
  ASSIGN_OR_RETURN(std::shared_ptr<pki::Token> token, open(device));
  return token->find(label);
}

}  // namespace scepter::ca
