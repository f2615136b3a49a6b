#include "daemon/master_key.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "common/fs.h"

namespace scepter::daemon {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<MasterPassphrase> load_master_passphrase(const std::string& password_file,
                                                const std::string& nvram_dir) {
  if (!password_file.empty()) {
    ASSIGN_OR_RETURN(std::string text, fs::read_file(password_file));
    text = trim(text);
    if (text.empty())
      return fail(invalid_argument("the password file " + password_file + " is empty"));
    return MasterPassphrase{text, "--password-file " + password_file, false};
  }
  if (const char* env = std::getenv("SCEPTER_PASSWORD"); env != nullptr && *env != '\0') {
    return MasterPassphrase{env, "SCEPTER_PASSWORD", false};
  }
  const std::string path = nvram_dir + "/private-config";
  if (auto text = fs::read_file(path); text.has_value()) {
    std::string p = trim(*text);
    if (!p.empty()) return MasterPassphrase{p, path, false};
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return fail(internal_error("no randomness"));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string p;
  for (unsigned char c : raw) {
    p += kHex[c >> 4];
    p += kHex[c & 15];
  }
  RETURN_IF_ERROR(fs::write_atomic(path, p + "\n", 0600));
  return MasterPassphrase{p, path, true};
}

}  // namespace scepter::daemon
