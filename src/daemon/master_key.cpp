#include "daemon/master_key.h"

#include <string.h>  // explicit_bzero

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

constexpr const char* kEnvVar = "SCEPTER_PASSWORD";

// Takes SCEPTER_PASSWORD out of the environment: the copy is returned, the original
// bytes are overwritten and the variable is removed. Empty when it is not set.
std::string take_env_password() {
  char* env = std::getenv(kEnvVar);
  if (env == nullptr) return {};
  std::string value = env;
  // The string lives in the environment block (or a putenv'd buffer): clear it where it
  // is, since unsetenv only drops the pointer to it.
  explicit_bzero(env, value.size());
  ::unsetenv(kEnvVar);
  return value;
}

}  // namespace

void wipe(std::string& secret) {
  explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

Result<MasterPassphrase> load_master_passphrase(const std::string& password_file,
                                                const std::string& nvram_dir) {
  // Whatever the source, the variable leaves the environment now.
  std::string env = take_env_password();
  if (!password_file.empty()) {
    wipe(env);
    ASSIGN_OR_RETURN(std::string text, fs::read_file(password_file));
    MasterPassphrase m{trim(text), "--password-file " + password_file, false};
    wipe(text);
    if (m.passphrase.empty()) {
      return fail(invalid_argument("the password file " + password_file + " is empty"));
    }
    return m;
  }
  if (!env.empty()) {
    MasterPassphrase m{env, kEnvVar, false};
    wipe(env);
    return m;
  }
  const std::string path = nvram_dir + "/private-config";
  if (auto text = fs::read_file(path); text.has_value()) {
    MasterPassphrase m{trim(*text), path, false};
    wipe(*text);
    if (!m.passphrase.empty()) {
      // Written 0600, but an older version or a copy may have left it readable.
      RETURN_IF_ERROR(fs::restrict_mode(path, 0600));
      return m;
    }
  }
  ASSIGN_OR_RETURN(std::string raw, pki::random_bytes(32));
  std::string p = pki::hex_upper(raw);
  RETURN_IF_ERROR(fs::write_atomic(path, p + "\n", 0600));
  return MasterPassphrase{p, path, true};
}

}  // namespace scepter::daemon
