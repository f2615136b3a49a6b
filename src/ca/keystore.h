#pragma once
// The device's named key pairs (`crypto key generate|import|export|zeroize`, and the
// CA's signing key, which carries the certificate server's label).
//
// Private keys never rest on disk in clear: each key is a PKCS#8 PEM encrypted with the
// device's master passphrase (AES-256-CBC, PBKDF2), in <dir>/<label>.key with mode 0600.
// A comment line before the PEM keeps the IOS attributes (usage, exportable, creation).
//
// Thread-safe: every method may be called from several threads; KeyEntry values are
// copies that share the (immutable, thread-safe) EVP_PKEY.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pki/key.h"

namespace scepter::ca {

enum class KeyUsage { kGeneralPurpose, kUsageKeys, kSignature, kEncryption };
const char* key_usage_name(KeyUsage usage);  // "General Purpose Key", ...

struct KeyEntry {
  std::string label;
  pki::Key key;
  KeyUsage usage = KeyUsage::kGeneralPurpose;
  bool exportable = false;
  TimePoint created{};
};

class KeyStore {
 public:
  // Loads every key in `dir` (created if missing). Fails with kPermissionDenied when a
  // key cannot be decrypted with `master_passphrase`, kUnavailable on I/O errors.
  static Result<std::unique_ptr<KeyStore>> open(std::string dir, std::string master_passphrase);

  // Labels are 1-64 characters of [A-Za-z0-9._-]; anything else is kInvalidArgument.
  static Status check_label(const std::string& label);

  // Stores (or replaces) a key and writes it to disk before returning.
  Status put(const KeyEntry& entry);
  std::optional<KeyEntry> get(const std::string& label) const;
  std::vector<KeyEntry> list() const;  // sorted by label
  // Deletes the key file. kNotFound if there is no such key.
  Status remove(const std::string& label);

 private:
  KeyStore(std::string dir, std::string passphrase)
      : dir_(std::move(dir)), passphrase_(std::move(passphrase)) {}
  std::string path_of(const std::string& label) const;

  const std::string dir_;
  const std::string passphrase_;
  mutable std::mutex mu_;
  std::map<std::string, KeyEntry> keys_;  // GUARDED_BY(mu_)
};

}  // namespace scepter::ca
