#pragma once
// Helpers for the pki/ unit tests only: a temporary directory and a way to run the
// `openssl` command-line tool as an independent check. Header-only so it stays out of
// the library.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "common/testing.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "pki/name.h"

namespace scepter::pki::test {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pki_test.XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `data` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& data) const {
    const std::string p = file(name);
    std::ofstream out(p, std::ios::binary);
    out << data;
    return p;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(file(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::filesystem::path path_;
};

struct Output {
  int status = -1;   // exit status, -1 if it did not exit normally
  std::string text;  // stdout and stderr
};

// Runs `command` with /bin/sh and collects its output.
inline Output run(const std::string& command) {
  Output out;
  FILE* pipe = popen(("(" + command + ") 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.text.append(buf, n);
  const int rc = pclose(pipe);
  out.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// The fingerprint `openssl x509 -fingerprint -<md>` prints for a DER file, without colons.
inline std::string openssl_fingerprint(const std::string& der_file, const std::string& md) {
  const Output out =
      run("openssl x509 -inform DER -noout -fingerprint -" + md + " -in " + der_file);
  std::string hex;
  const std::size_t eq = out.text.find('=');
  if (out.status != 0 || eq == std::string::npos) return "error: " + out.text;
  for (std::size_t i = eq + 1; i < out.text.size(); ++i) {
    const char c = out.text[i];
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) hex.push_back(c);
  }
  return hex;
}

// Fixed keys from tests/keys (made by tests/keys/make.sh): RSA generation is slow, and
// fixed keys make every run the same.
inline Key fixed_key(const std::string& name) {
  std::ifstream f(::scepter::testing::source_path("tests/keys/" + name + ".pem"));
  std::stringstream pem;
  pem << f.rdbuf();
  auto key = Key::from_pem(pem.str());
  CA_ASSERT(key.has_value(), "missing test key");
  return *key;
}
inline const Key& rsa_key_2048() {
  static const Key key = fixed_key("rsa-2048-a");
  return key;
}
inline const Key& rsa_key_1024() {
  static const Key key = fixed_key("rsa-1024");
  return key;
}
inline const Key& ec_key_256() {
  static const Key key = fixed_key("ec-p256");
  return key;
}

// 2025-01-04 12:58:34 UTC, a fixed "now" for certificates made in tests.
inline constexpr std::int64_t kNow = 1735995514;

// A self-signed CA "CN=<cn>, O=Test, C=US", serial 1, valid for 1095 days from kNow.
inline Certificate make_test_ca(const Key& key, const std::string& cn = "testca",
                                Hash hash = Hash::kSha256) {
  auto name = parse_dn("CN=" + cn + ", O=Test, C=US");
  auto cert = make_ca_certificate(CaCertSpec{
      .subject = name->get(),
      .key = key,
      .serial = 1,
      .not_before = from_unix(kNow),
      .not_after = from_unix(kNow + 1095 * 86400),
      .hash = hash,
  });
  if (!cert) std::abort();
  return *cert;
}

}  // namespace scepter::pki::test
