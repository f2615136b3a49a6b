#pragma once
// Test-only: keys, certificates, CSRs and CRLs for the scep tests, built with plain
// OpenSSL calls so that the tests depend on nothing but the code under test. Keys are
// generated once per process (RSA generation is slow on a shared machine).

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "pki/ptr.h"
#include "scep/client.h"

namespace scepter::scep::testing {

inline pki::Ptr<EVP_PKEY> rsa_key(unsigned bits) { return pki::Ptr<EVP_PKEY>(EVP_RSA_gen(bits)); }

inline pki::Ptr<X509_NAME> name(std::string_view cn, std::string_view o = "Scepter Test") {
  pki::Ptr<X509_NAME> n(X509_NAME_new());
  X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(o.data()),
                             static_cast<int>(o.size()), -1, 0);
  X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             static_cast<int>(cn.size()), -1, 0);
  return n;
}

inline pki::Ptr<X509_REQ> make_csr(EVP_PKEY* key, std::string_view cn,
                                   std::string_view challenge = "cisco") {
  pki::Ptr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_REQ_set_subject_name(req.get(), name(cn).get());
  X509_REQ_set_pubkey(req.get(), key);
  X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, MBSTRING_ASC,
                            reinterpret_cast<const unsigned char*>(challenge.data()),
                            static_cast<int>(challenge.size()));
  X509_REQ_sign(req.get(), key, EVP_sha256());
  return req;
}

// An end-entity certificate for `csr`, issued by ca_cert/ca_key.
inline pki::Ptr<X509> issue(X509_REQ* csr, X509* ca_cert, EVP_PKEY* ca_key, long serial) {
  pki::Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert));
  X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(csr));
  X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(csr));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 365);
  X509_sign(cert.get(), ca_key, EVP_sha256());
  return cert;
}

inline std::string crl_der(X509* ca_cert, EVP_PKEY* ca_key) {
  pki::Ptr<X509_CRL> crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 0);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert));
  pki::Ptr<ASN1_STRING> now(ASN1_TIME_adj(nullptr, time(nullptr), 0, 0));
  pki::Ptr<ASN1_STRING> next(ASN1_TIME_adj(nullptr, time(nullptr), 7, 0));
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  X509_CRL_sign(crl.get(), ca_key, EVP_sha256());
  std::string out(static_cast<size_t>(i2d_X509_CRL(crl.get(), nullptr)), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509_CRL(crl.get(), &p);
  return out;
}

inline std::string cert_der(X509* cert) {
  std::string out(static_cast<size_t>(i2d_X509(cert, nullptr)), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509(cert, &p);
  return out;
}

// The parties of a SCEP exchange, built once.
struct Pki {
  pki::Ptr<EVP_PKEY> ca_key;
  pki::Ptr<X509> ca_cert;
  pki::Ptr<EVP_PKEY> client_key;
  pki::Ptr<X509> client_signer;  // self-signed throw-away certificate
  pki::Ptr<X509_REQ> csr;
  pki::Ptr<EVP_PKEY> other_key;  // neither CA nor client
  pki::Ptr<X509> other_cert;
};

inline Pki make_pki() {
  Pki p;
  p.ca_key = rsa_key(2048);
  p.ca_cert = std::move(*make_self_signed_signer(p.ca_key.get(), name("Test CA").get()));
  p.client_key = rsa_key(2048);
  p.csr = make_csr(p.client_key.get(), "router1.example.com");
  p.client_signer = std::move(
      *make_self_signed_signer(p.client_key.get(), X509_REQ_get_subject_name(p.csr.get())));
  p.other_key = rsa_key(2048);
  p.other_cert = std::move(*make_self_signed_signer(p.other_key.get(), name("Other").get()));
  return p;
}

inline const Pki& shared_pki() {
  static const Pki pki = make_pki();
  return pki;
}

inline std::string csr_der(X509_REQ* req) {
  std::string out(static_cast<size_t>(i2d_X509_REQ(req, nullptr)), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509_REQ(req, &p);
  return out;
}

// A file under the test's temporary directory; removed by the destructor.
class TempFile {
 public:
  explicit TempFile(std::string_view contents) {
    char tmpl[] = "/tmp/scep_test_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) close(fd);
    path_ = tmpl;
    std::ofstream(path_, std::ios::binary).write(contents.data(), contents.size());
  }
  TempFile() : TempFile(std::string_view()) {}
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string path_;
};

inline std::string pem_key(EVP_PKEY* key) {
  pki::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

inline std::string pem_cert(X509* cert) {
  pki::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// Runs a shell command; returns its exit status and stdout+stderr.
inline int run(const std::string& cmd, std::string* output = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* f = popen(full.c_str(), "r");
  if (f == nullptr) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int rc = pclose(f);
  if (output) *output = out;
  return rc;
}

}  // namespace scepter::scep::testing
