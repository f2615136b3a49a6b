#include "ca/keystore.h"

#include <dirent.h>

#include <sstream>

#include "common/fs.h"
#include "common/log.h"

namespace scepter::ca {
namespace {

constexpr std::string_view kSuffix = ".key";
constexpr std::string_view kHeader = "# scepter-key";

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

// "# scepter-key usage=general exportable=no created=1735995514"
void parse_header(const std::string& text, KeyEntry& e) {
  std::istringstream in(text.substr(0, text.find('\n')));
  std::string word;
  in >> word >> word;  // "#", "scepter-key"
  while (in >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    std::string k = word.substr(0, eq), v = word.substr(eq + 1);
    if (k == "usage") e.usage = usage_from(v);
    if (k == "exportable") e.exportable = v == "yes";
    if (k == "created") e.created = from_unix(std::stoll(v));
  }
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

Result<std::unique_ptr<KeyStore>> KeyStore::open(std::string dir, std::string master_passphrase) {
  RETURN_IF_ERROR(fs::make_dirs(dir));
  std::unique_ptr<KeyStore> ks(new KeyStore(dir, std::move(master_passphrase)));
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
    auto key = pki::Key::from_pem(text, ks->passphrase_);
    if (!key.has_value()) {
      return fail(permission_denied("cannot decrypt key " + label +
                                    " with the master passphrase: " + key.error().message()));
    }
    KeyEntry e{label, std::move(*key)};
    if (text.starts_with(kHeader)) {
      try {
        parse_header(text, e);
      } catch (...) {
        log::warn("key {}: unreadable attribute line, using defaults", label);
      }
    }
    ks->keys_.emplace(label, std::move(e));
  }
  return ks;
}

Status KeyStore::put(const KeyEntry& entry) {
  RETURN_IF_ERROR(check_label(entry.label));
  ASSIGN_OR_RETURN(std::string pem, entry.key.to_pkcs8_encrypted_pem(passphrase_));
  std::string text = std::string(kHeader) + " usage=" + usage_token(entry.usage) +
                     " exportable=" + (entry.exportable ? "yes" : "no") +
                     " created=" + std::to_string(to_unix(entry.created)) + "\n" + pem;
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(fs::write_atomic(path_of(entry.label), text, 0600));
  keys_.insert_or_assign(entry.label, entry);
  return ok_status();
}

std::optional<KeyEntry> KeyStore::get(const std::string& label) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(label);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

std::vector<KeyEntry> KeyStore::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KeyEntry> out;
  for (const auto& [label, e] : keys_) out.push_back(e);
  return out;
}

Status KeyStore::remove(const std::string& label) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(label);
  if (it == keys_.end()) return not_found("no key named " + label);
  RETURN_IF_ERROR(fs::remove_file(path_of(label)));
  keys_.erase(it);
  return ok_status();
}

}  // namespace scepter::ca
