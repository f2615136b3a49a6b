#include "daemon/master_key.h"

#include <cstdlib>

#include "common/fs.h"
#include "pki/digest.h"
#include "pki/encoding.h"

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
  ASSIGN_OR_RETURN(std::string raw, pki::random_bytes(32));
  std::string p = pki::hex_upper(raw);
  RETURN_IF_ERROR(fs::write_atomic(path, p + "\n", 0600));
  return MasterPassphrase{p, path, true};
}

}  // namespace scepter::daemon
