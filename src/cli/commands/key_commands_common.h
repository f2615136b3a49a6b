#pragma once
// Helpers shared by the `crypto key` command files (key_commands.cpp,
// key_transfer_commands.cpp). Internal to cli/commands.

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/command_table.h"
#include "pki/key.h"

namespace scepter::cli {

inline constexpr std::string_view kCryptoHelp = "Encryption module";
inline constexpr std::string_view kKeyHelp = "Long term key operations";

enum class KeyType { kRsa, kEc };

inline KeyType type_of(const pki::Key& key) { return key.is_ec() ? KeyType::kEc : KeyType::kRsa; }
// "RSA" or "EC", as IOS names key types in its messages.
inline std::string type_name(KeyType type) { return type == KeyType::kEc ? "EC" : "RSA"; }
inline KeyType type_from_keyword(std::string_view keyword) {
  return keyword == "ec" ? KeyType::kEc : KeyType::kRsa;
}

// A device as typed after `on` (IOS writes "usbtoken0:"): the name without its colon.
inline std::string strip_device_colon(std::string_view word) {
  if (!word.empty() && word.back() == ':') word.remove_suffix(1);
  return std::string(word);
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The grammar's usage keyword ("" when none was typed: general purpose).
inline ca::KeyUsage usage_from_keyword(std::string_view keyword) {
  if (keyword == "usage-keys") return ca::KeyUsage::kUsageKeys;
  if (keyword == "signature") return ca::KeyUsage::kSignature;
  if (keyword == "encryption") return ca::KeyUsage::kEncryption;
  return ca::KeyUsage::kGeneralPurpose;
}

// One key pair of a label, with the usage IOS shows for it.
struct UsagePair {
  ca::KeyUsage usage;
  pki::Key key;
};

// The pairs `show` and `export` list for a label, in IOS's order: usage keys are a
// signature pair and an encryption pair (only the first if the label was written before
// scepterd kept both); any other label is its one pair, with its own usage.
inline std::vector<UsagePair> usage_pairs(const ca::KeyEntry& entry) {
  if (entry.usage != ca::KeyUsage::kUsageKeys) return {{entry.usage, entry.key}};
  std::vector<UsagePair> pairs{{ca::KeyUsage::kSignature, entry.key}};
  if (entry.encryption_key) pairs.push_back({ca::KeyUsage::kEncryption, *entry.encryption_key});
  return pairs;
}

// The keys of a certificate server whose CA certificate exists signed that certificate:
// replacing them would orphan it. Only the same key pair may be put back (an import that
// drops `exportable`, as the IOS guide suggests). kPermissionDenied otherwise.
inline Status check_ca_key_replaceable(ca::Device& device, const std::string& label,
                                       const pki::Key* replacement = nullptr) {
  auto server = device.server(label);
  if (!server) return ok_status();
  auto ca_cert = server->info().ca_certificate;
  if (!ca_cert) return ok_status();
  if (replacement) {
    auto ca_key = ca_cert->public_key();
    if (ca_key.has_value() && ca_key->equals_public(*replacement)) return ok_status();
  }
  return permission_denied(fmt::format(
      "The keys named {0} signed the CA certificate of certificate server {0} and can only be "
      "replaced by the same key pair; remove the server first (no crypto pki server {0}).",
      label));
}

// crypto key export / import (key_transfer_commands.cpp); called by register_key_commands.
void register_key_transfer_commands(CommandTable& t);

}  // namespace scepter::cli
