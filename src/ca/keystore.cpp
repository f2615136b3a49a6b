#include "ca/keystore.h"

#include <dirent.h>

#include <charconv>
#include <cstdint>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"

namespace scepter::ca {
namespace {

constexpr std::string_view kSuffix = ".key";
constexpr std::string_view kHeader = "# scepter-key";
constexpr std::string_view kPemBegin = "-----BEGIN ";

// The second PEM of a usage-keys file (the encryption pair); empty when there is none.
std::string_view second_pem(std::string_view text) {
  auto first = text.find(kPemBegin);
  if (first == std::string_view::npos) return {};
  auto second = text.find(kPemBegin, first + kPemBegin.size());
  return second == std::string_view::npos ? std::string_view{} : text.substr(second);
}

std::string usage_token(KeyUsage u) {
  switch (u) {
    case KeyUsage::kGeneralPurpose:
      return "general";
    case KeyUsage::kUsageKeys:
      return "usage-keys";
    case KeyUsage::kSignature:
      return "signature";
    case KeyUsage::kEncryption:
      return "encryption";
  }
  return "general";
}

KeyUsage usage_from(const std::string& s) {
  if (s == "usage-keys") return KeyUsage::kUsageKeys;
  if (s == "signature") return KeyUsage::kSignature;
  if (s == "encryption") return KeyUsage::kEncryption;
  return KeyUsage::kGeneralPurpose;
}

// "# scepter-key usage=general exportable=no created=1735995514". A value that does not
// parse leaves the default and is reported; the key itself stays usable.
Status parse_header(const std::string& text, KeyEntry& e) {
  std::istringstream in(text.substr(0, text.find('\n')));
  std::string word;
  in >> word >> word;  // "#", "scepter-key"
  Status status;
  while (in >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    std::string k = word.substr(0, eq), v = word.substr(eq + 1);
    if (k == "usage") e.usage = usage_from(v);
    if (k == "exportable") e.exportable = v == "yes";
    if (k == "on") e.device = v;
    if (k == "tokenlabel") e.token_label = v;
    if (k == "created") {
      std::int64_t seconds = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      if (ec != std::errc() || end != v.data() + v.size()) {
        status = invalid_argument("bad created= value");
        continue;
      }
      e.created = from_unix(seconds);
    }
  }
  return status;
}

// The token named by the attribute line's "on=", empty for a key held here.
std::string device_of(const std::string& text) {
  std::istringstream in(text.substr(0, text.find('\n')));
  std::string word;
  while (in >> word) {
    if (word.starts_with("on=")) return word.substr(3);
  }
  return {};
}

// True when `pem` is protected as put() protects keys today.
bool is_current_protection(const std::string& pem, int iterations) {
  auto p = pki::pkcs8_protection(pem);
  return p.has_value() && p->scheme == "PBES2" && p->kdf == "PBKDF2" &&
         p->prf == "hmacWithSHA256" && p->cipher == "aes-256-cbc" && p->iterations >= iterations;
}

}  // namespace

const char* key_usage_name(KeyUsage usage) {
  switch (usage) {
    case KeyUsage::kGeneralPurpose:
      return "General Purpose Key";
    case KeyUsage::kUsageKeys:
      return "Usage Keys";
    case KeyUsage::kSignature:
      return "Signature Key";
    case KeyUsage::kEncryption:
      return "Encryption Key";
  }
  return "General Purpose Key";
}

Status KeyStore::check_label(const std::string& label) {
  if (label.empty() || label.size() > 64) {
    return invalid_argument("key label must be 1 to 64 characters");
  }
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return invalid_argument("key label may only contain letters, digits, '.', '_', '-'");
  }
  if (label == "." || label == "..") return invalid_argument("invalid key label");
  return ok_status();
}

std::string KeyStore::path_of(const std::string& label) const {
  return dir_ + "/" + label + std::string(kSuffix);
}

Result<std::unique_ptr<KeyStore>> KeyStore::open(std::string dir, std::string master_passphrase,
                                                 int kdf_iterations) {
  RETURN_IF_ERROR(fs::make_dirs(dir));
  std::unique_ptr<KeyStore> ks(new KeyStore(dir, std::move(master_passphrase), kdf_iterations));
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return fail(unavailable("cannot read key directory " + dir));
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    std::string label = name.substr(0, name.size() - kSuffix.size());
    if (!check_label(label).ok()) continue;
    ASSIGN_OR_RETURN(std::string text, fs::read_file(dir + "/" + name));
    if (text.starts_with(kHeader) && !device_of(text).empty()) {
      // A token key: its public key here, its private key on the token.
      auto pub = pki::Key::from_pem(text);
      if (!pub.has_value()) {
        return fail(
            invalid_argument("key " + label + ": unreadable public key: " + pub.error().message()));
      }
      KeyEntry e{label, std::move(*pub)};
      (void)parse_header(text, e);
      e.device_error = "token " + e.device + " is not logged in";
      MutexLock lock(ks->mu_);
      ks->keys_.emplace(label, std::move(e));
      continue;
    }
    auto key = pki::Key::from_pem(text, ks->passphrase_);
    if (!key.has_value()) {
      return fail(permission_denied("cannot decrypt key " + label +
                                    " with the master passphrase: " + key.error().message()));
    }
    KeyEntry e{label, std::move(*key)};
    if (text.starts_with(kHeader)) {
      if (Status s = parse_header(text, e); !s.ok()) {
        log::warn("key {}: unreadable attribute line ({}), using defaults", label, s.message());
      }
    }
    if (std::string_view enc = second_pem(text); !enc.empty()) {
      auto enc_key = pki::Key::from_pem(enc, ks->passphrase_);
      if (!enc_key.has_value()) {
        return fail(permission_denied("cannot decrypt the encryption key of " + label +
                                      " with the master passphrase: " + enc_key.error().message()));
      }
      if (e.usage == KeyUsage::kUsageKeys) e.encryption_key = std::move(*enc_key);
    }
    if (!is_current_protection(text, kdf_iterations)) {
      // Decrypted anyway: now is the cheapest moment to bring the file up to date.
      auto text_now = ks->encode(e);
      Status s = text_now.has_value() ? fs::write_atomic(ks->path_of(label), *text_now, 0600)
                                      : Status(text_now.error());
      if (s.ok()) {
        log::info("key {}: re-encrypted with PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 ({} iterations)",
                  label, kdf_iterations);
      } else {
        log::warn("key {}: cannot re-encrypt with stronger parameters: {}", label, s.message());
      }
    }
    MutexLock lock(ks->mu_);  // nobody else has the store yet; for the analysis
    ks->keys_.emplace(label, std::move(e));
  }
  return ks;
}

Result<std::string> KeyStore::encode(const KeyEntry& entry) const {
  const std::string header = std::string(kHeader) + " usage=" + usage_token(entry.usage) +
                             " exportable=" + (entry.exportable ? "yes" : "no") +
                             " created=" + std::to_string(to_unix(entry.created));
  if (!entry.device.empty()) {
    if (entry.exportable || entry.encryption_key.has_value()) {
      return fail(invalid_argument("a key on a token is one pair and never exportable"));
    }
    if (!KeyStore::check_label(entry.device).ok()) {
      return fail(invalid_argument("bad token name " + entry.device));
    }
    std::string where = " on=" + entry.device;
    if (!entry.token_label.empty() && entry.token_label != entry.label) {
      if (!KeyStore::check_label(entry.token_label).ok()) {
        return fail(invalid_argument("bad token key label " + entry.token_label));
      }
      where += " tokenlabel=" + entry.token_label;
    }
    return header + where + "\n" + entry.key.public_pem();
  }
  ASSIGN_OR_RETURN(std::string pem, entry.key.to_encrypted_pkcs8_pem(passphrase_, kdf_iterations_));
  if (entry.encryption_key.has_value()) {
    if (entry.usage != KeyUsage::kUsageKeys) {
      return fail(invalid_argument("only usage keys have a separate encryption pair"));
    }
    ASSIGN_OR_RETURN(std::string enc,
                     entry.encryption_key->to_encrypted_pkcs8_pem(passphrase_, kdf_iterations_));
    pem += enc;
  }
  return header + "\n" + pem;
}

Status KeyStore::put(const KeyEntry& entry) {
  RETURN_IF_ERROR(check_label(entry.label));
  // The key derivation takes a noticeable time: outside the lock.
  ASSIGN_OR_RETURN(std::string text, encode(entry));
  MutexLock lock(mu_);
  return store_locked(entry, text);
}

Status KeyStore::put_if_unchanged(const KeyEntry& entry, const std::optional<KeyEntry>& expected) {
  RETURN_IF_ERROR(check_label(entry.label));
  ASSIGN_OR_RETURN(std::string text, encode(entry));
  MutexLock lock(mu_);
  auto it = keys_.find(entry.label);
  const bool unchanged = expected.has_value()
                             ? it != keys_.end() && it->second.key.equals_public(expected->key)
                             : it == keys_.end();
  if (!unchanged) {
    return already_exists("key " + entry.label + " was changed by another writer");
  }
  return store_locked(entry, text);
}

Status KeyStore::store_locked(const KeyEntry& entry, const std::string& text) {
  RETURN_IF_ERROR(fs::write_atomic(path_of(entry.label), text, 0600));
  keys_.insert_or_assign(entry.label, entry);
  return ok_status();
}

std::optional<KeyEntry> KeyStore::get(const std::string& label) const {
  std::optional<KeyEntry> entry;
  TokenKeyResolver resolver;
  {
    MutexLock lock(mu_);
    auto it = keys_.find(label);
    if (it == keys_.end()) return std::nullopt;
    entry = it->second;
    resolver = resolver_;
  }
  resolve(*entry, resolver);
  return entry;
}

std::vector<KeyEntry> KeyStore::list() const {
  std::vector<KeyEntry> out;
  TokenKeyResolver resolver;
  {
    MutexLock lock(mu_);
    for (const auto& [label, e] : keys_) out.push_back(e);
    resolver = resolver_;
  }
  for (KeyEntry& e : out) resolve(e, resolver);
  return out;
}

// Outside the store's lock: the resolver talks to the token.
void KeyStore::resolve(KeyEntry& entry, const TokenKeyResolver& resolver) const {
  if (entry.device.empty() || entry.key.has_private()) return;
  if (!resolver) return;
  Result<pki::Key> found = resolver(entry.device, entry.object_label());
  if (!found.has_value()) {
    entry.device_error = found.error().message();
    return;
  }
  if (!found->equals_public(entry.key)) {
    entry.device_error = "the key " + entry.label + " on token " + entry.device +
                         " is not the one this label was made with";
    return;
  }
  entry.key = std::move(*found);
  entry.device_error.clear();
  // Kept, unless the label changed meanwhile.
  MutexLock lock(mu_);
  auto it = keys_.find(entry.label);
  if (it != keys_.end() && it->second.device == entry.device &&
      it->second.key.equals_public(entry.key)) {
    it->second.key = entry.key;
    it->second.device_error.clear();
  }
}

void KeyStore::set_token_resolver(TokenKeyResolver resolver) {
  MutexLock lock(mu_);
  resolver_ = std::move(resolver);
}

void KeyStore::forget_token_keys(const std::string& device) {
  MutexLock lock(mu_);
  for (auto& [label, e] : keys_) {
    if (e.device != device || !e.key.has_private()) continue;
    auto pub = pki::Key::from_public_der(e.key.public_key_der());
    if (!pub.has_value()) continue;  // cannot happen: the DER came from a key
    e.key = std::move(*pub);
    e.device_error = "token " + device + " is not logged in";
  }
}

Status KeyStore::remove(const std::string& label) {
  MutexLock lock(mu_);
  auto it = keys_.find(label);
  if (it == keys_.end()) return not_found("no key named " + label);
  RETURN_IF_ERROR(fs::remove_file(path_of(label)));
  keys_.erase(it);
  return ok_status();
}

}  // namespace scepter::ca
