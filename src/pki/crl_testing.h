#pragma once
// Test fixtures for the CRL tests: throwaway CAs made with OpenSSL's own APIs, a scratch
// directory, and a runner for the `openssl` command line. Tests only; not thread-safe.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common/clock.h"
#include "pki/ptr.h"

namespace scepter::pki::crl_testing {

struct TestCa {
  Ptr<EVP_PKEY> key;
  Ptr<X509> cert;
};

enum class KeyKind { kRsa2048, kEcP256 };

inline Ptr<EVP_PKEY> make_key(KeyKind kind) {
  return Ptr<EVP_PKEY>(kind == KeyKind::kRsa2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
}

inline void add_ext(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  CA_ASSERT(ext && X509_add_ext(cert, ext.get(), -1) == 1, "test extension");
}

// A self-signed CA certificate, decoded again from DER so its subject has a cached
// encoding as a certificate loaded from disk has.
// With `same_key_as`, the new CA reuses that CA's key instead of generating one.
inline TestCa make_ca(KeyKind kind, const std::string& cn = "Scepter Test CA", bool ski = true,
                      const TestCa* same_key_as = nullptr) {
  TestCa ca;
  ca.key = same_key_as ? up_ref(same_key_as->key.get()) : make_key(kind);
  Ptr<X509> cert(X509_new());
  CA_ASSERT(ca.key && cert, "test CA");
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Scepter"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400);
  X509_set_pubkey(cert.get(), ca.key.get());
  add_ext(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  if (ski) add_ext(cert.get(), NID_subject_key_identifier, "hash");
  CA_ASSERT(X509_sign(cert.get(), ca.key.get(), EVP_sha256()) > 0, "test CA signature");
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  const unsigned char* p = der;
  ca.cert.reset(d2i_X509(nullptr, &p, len));
  OPENSSL_free(der);
  CA_ASSERT(ca.cert != nullptr, "test CA round trip");
  return ca;
}

// A fresh directory under the system temp dir, removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "crl_test.XXXXXX").string();
    CA_ASSERT(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, std::string_view data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  CA_ASSERT(f != nullptr, "open for writing");
  CA_ASSERT(std::fwrite(data.data(), 1, data.size(), f) == data.size(), "write");
  std::fclose(f);
}

inline void write_cert_pem(const std::string& path, X509* cert) {
  Ptr<BIO> bio(BIO_new_file(path.c_str(), "w"));
  CA_ASSERT(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "write PEM");
}

// Runs a shell command; returns its exit status and its stdout and stderr together.
inline std::pair<int, std::string> run(const std::string& command) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  CA_ASSERT(pipe != nullptr, "popen");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// 2025-01-04 12:58:34 UTC, a fixed "now" for the tests.
inline TimePoint test_now() { return from_unix(1735995514); }

}  // namespace scepter::pki::crl_testing
