#pragma once
// The device's named key pairs (`crypto key generate|import|export|zeroize`, and the
// CA's signing key, which carries the certificate server's label).
//
// Private keys never rest on disk in clear: each key is a PKCS#8 PEM encrypted with the
// device's master passphrase (PBES2: AES-256-CBC, PBKDF2-HMAC-SHA256 with 600,000
// iterations, see pki::Key::to_encrypted_pkcs8_pem), in <dir>/<label>.key with mode 0600.
// A comment line before the PEM keeps the IOS attributes (usage, exportable, creation).
// Usage keys (IOS `usage-keys`) are two pairs under one label, one to sign and one to
// encrypt: the file then holds two PEMs, the signature key first.
// Each key is decrypted once, by open(); put() encrypts once (about 0.3 s): nothing on a
// request path decrypts or encrypts.
//
// A key on a PKCS#11 token (`crypto key generate rsa ... on NAME:`) keeps only its public
// key and the token's name in <label>.key: the private key never leaves the token. Such
// an entry's `key` is public-only until the resolver set by set_token_resolver() finds it
// on the token (the Device does, once the token is logged in); `device_error` says why
// it is not at hand meanwhile.
//
// Thread-safe: every method may be called from several threads; KeyEntry values are
// copies that share the (immutable, thread-safe) EVP_PKEY. The store's lock covers only
// the map and the file write: encryption runs before it is taken, and keys are generated
// by the caller, so listing keys never waits for a key being made. A caller that makes a
// key from what it read earlier (generation, import after a question) stores it with
// put_if_unchanged(), so that of two such writers one wins and the other is told.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pki/key.h"

namespace scepter::ca {

enum class KeyUsage { kGeneralPurpose, kUsageKeys, kSignature, kEncryption };
const char* key_usage_name(KeyUsage usage);  // "General Purpose Key", ...

struct KeyEntry {
  std::string label;
  pki::Key key;  // with usage keys, the signature pair
  KeyUsage usage = KeyUsage::kGeneralPurpose;
  bool exportable = false;
  TimePoint created{};
  // Usage keys: the encryption pair. Set only when usage is kUsageKeys (a usage-keys
  // label written by an older scepter has only the signature pair).
  std::optional<pki::Key> encryption_key = std::nullopt;
  // The token holding the private key (`on NAME:`); empty for keys held here.
  std::string device = {};
  // The key's label on the token (CKA_LABEL), when it is not `label`: a CA key that came
  // from a rollover keeps the label it was made with there. Empty: `label`.
  std::string token_label = {};
  // A token key whose private half is not at hand: why (token not configured, wrong PIN,
  // key missing on the token). Empty otherwise.
  std::string device_error = {};

  const std::string& object_label() const { return token_label.empty() ? label : token_label; }
  // The pair that decrypts what is sent to this label's certificates.
  const pki::Key& decryption_key() const { return encryption_key ? *encryption_key : key; }
};

// Finds the private key `label` on the token `device`.
using TokenKeyResolver =
    std::function<Result<pki::Key>(const std::string& device, const std::string& label)>;

class KeyStore {
 public:
  // Loads every key in `dir` (created if missing). A key file written with weaker
  // protection than today's (an older scepter used PBKDF2 with 2048 iterations) is read
  // and then rewritten with `kdf_iterations`; a failed rewrite is logged, not fatal.
  // `kdf_iterations` is for tests only: keep the default. Fails with kPermissionDenied
  // when a key cannot be decrypted with `master_passphrase`, kUnavailable on I/O errors.
  static Result<std::unique_ptr<KeyStore>> open(std::string dir, std::string master_passphrase,
                                                int kdf_iterations = pki::kKeyEncryptionIterations);

  // Labels are 1-64 characters of [A-Za-z0-9._-]; anything else is kInvalidArgument.
  static Status check_label(const std::string& label);

  // Stores (or replaces) a key and writes it to disk before returning.
  Status put(const KeyEntry& entry);
  // Compare-and-set: stores `entry` only if the label's key is still `expected` (the same
  // public key), or still absent when `expected` is nullopt. Otherwise stores nothing
  // and fails with kAlreadyExists ("changed by another writer"), and the key already
  // there (or its absence) stays as it is, on disk as in memory.
  Status put_if_unchanged(const KeyEntry& entry, const std::optional<KeyEntry>& expected);
  std::optional<KeyEntry> get(const std::string& label) const;
  std::vector<KeyEntry> list() const;  // sorted by label
  // Deletes the key file. kNotFound if there is no such key. (A token key's private half
  // stays on the token: the caller deletes it there.)
  Status remove(const std::string& label);

  // How token keys are found. get() and list() use it for entries whose private key is
  // not yet at hand, and keep what it finds; forget_token_keys() drops what was found
  // on `device` (the token was reconfigured or failed), so that the next get() asks again.
  void set_token_resolver(TokenKeyResolver resolver);
  void forget_token_keys(const std::string& device);

 private:
  KeyStore(std::string dir, std::string passphrase, int kdf_iterations)
      : dir_(std::move(dir)), passphrase_(std::move(passphrase)), kdf_iterations_(kdf_iterations) {}
  std::string path_of(const std::string& label) const;
  // The file's text: the attribute line and the encrypted PEM.
  Result<std::string> encode(const KeyEntry& entry) const;

  const std::string dir_;
  const std::string passphrase_;
  const int kdf_iterations_;
  // Writes the file and the map entry; the caller holds mu_.
  Status store_locked(const KeyEntry& entry, const std::string& text) REQUIRES(mu_);
  // A token entry whose private key is not at hand: found now if the resolver can, and
  // kept for the next caller. Takes mu_ itself.
  void resolve(KeyEntry& entry, const TokenKeyResolver& resolver) const EXCLUDES(mu_);

  mutable Mutex mu_;
  // mutable: get() keeps the token keys it resolves.
  mutable std::map<std::string, KeyEntry> keys_ GUARDED_BY(mu_);
  TokenKeyResolver resolver_ GUARDED_BY(mu_);
};

}  // namespace scepter::ca
