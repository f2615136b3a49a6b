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

#include <vector>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki/ptr.h"
#include "scep/client.h"
#include "scep/cms_util.h"

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

// An RSA public key with a random modulus of `bits` bits and exponent `e` (decimal or
// 0x hex): for signer certificates that must be refused before any key operation, so
// no private key is needed (and an 8192-bit one would take long to make).
inline pki::Ptr<EVP_PKEY> fake_rsa_public_key(int bits, const char* e_text) {
  pki::Ptr<BIGNUM> n(BN_new());
  BN_rand(n.get(), bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
  BIGNUM* e_raw = nullptr;
  if (BN_asc2bn(&e_raw, e_text) == 0) return nullptr;
  pki::Ptr<BIGNUM> e(e_raw);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  pki::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1) {
    EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params);
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pki::Ptr<EVP_PKEY>(key);
}

// A certificate with the issuer, serial and subject of `like` but the public key
// `public_key`, self-signed with `signing_key` (any key: nobody checks it). An envelope
// for it names `like` in its recipientInfo; a SignedData carrying it instead of `like`
// points its signerInfo at it.
inline pki::Ptr<X509> impostor(X509* like, EVP_PKEY* public_key, EVP_PKEY* signing_key) {
  pki::Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_set_serialNumber(cert.get(), X509_get_serialNumber(like));
  X509_set_issuer_name(cert.get(), X509_get_issuer_name(like));
  X509_set_subject_name(cert.get(), X509_get_subject_name(like));
  X509_set_pubkey(cert.get(), public_key);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L);
  X509_sign(cert.get(), signing_key, EVP_sha256());
  return cert;
}

// A self-signed certificate for `key` with a subjectKeyIdentifier extension (the
// SHA-1 of the public key, as RFC 5280 suggests).
inline pki::Ptr<X509> cert_with_ski(EVP_PKEY* key, std::string_view cn) {
  pki::Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 0x5c1);
  X509_set_issuer_name(cert.get(), name(cn).get());
  X509_set_subject_name(cert.get(), name(cn).get());
  X509_set_pubkey(cert.get(), key);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 365);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  pki::Ptr<X509_EXTENSION> ski(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash"));
  X509_add_ext(cert.get(), ski.get(), -1);
  X509_sign(cert.get(), key, EVP_sha256());
  return cert;
}

// EnvelopedData of `content` with one KeyTransRecipientInfo per certificate (the same
// one may come several times), AES-128-CBC. `cms_flags` may add CMS_USE_KEYID (the rid
// is then the certificate's subjectKeyIdentifier).
inline std::string envelope_to(std::string_view content, const std::vector<X509*>& recipients,
                               unsigned cms_flags = 0) {
  detail::X509Stack certs(sk_X509_new_null());
  for (X509* cert : recipients) sk_X509_push(certs.get(), pki::up_ref(cert).release());
  auto in = detail::read_bio(content);
  pki::Ptr<CMS_ContentInfo> env(
      CMS_encrypt(certs.get(), in->get(), EVP_aes_128_cbc(), CMS_BINARY | cms_flags));
  if (!env) return {};
  return *detail::cms_der(env.get());
}

// A PKIOperation around `envelope`, signed by `signer_cert` / `signer_key` with the SCEP
// attributes. `carried_cert`, when given, is put into SignedData.certificates instead
// of `signer_cert` (impostor()).
struct SignedMessage {
  X509* signer_cert = nullptr;
  EVP_PKEY* signer_key = nullptr;
  std::string message_type = "19";
  std::string transaction_id = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
  std::string sender_nonce = "fedcba9876543210";
  const EVP_MD* digest = EVP_sha256();
  X509* carried_cert = nullptr;
};
inline std::string signed_message(std::string_view envelope, const SignedMessage& m) {
  const AttributeTypes& types = attribute_types();
  pki::Ptr<CMS_ContentInfo> cms(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
  const unsigned flags = CMS_BINARY | CMS_NOSMIMECAP | (m.carried_cert ? CMS_NOCERTS : 0);
  CMS_SignerInfo* si = CMS_add1_signer(cms.get(), m.signer_cert, m.signer_key, m.digest, flags);
  if (si == nullptr) return {};
  auto add = [&](const ASN1_OBJECT* obj, int type, const std::string& value) {
    CMS_signed_add1_attr_by_OBJ(si, obj, type, value.data(), static_cast<int>(value.size()));
  };
  add(types.message_type.obj, V_ASN1_PRINTABLESTRING, m.message_type);
  add(types.transaction_id.obj, V_ASN1_PRINTABLESTRING, m.transaction_id);
  add(types.sender_nonce.obj, V_ASN1_OCTET_STRING, m.sender_nonce);
  auto in = detail::read_bio(envelope);
  if (CMS_final(cms.get(), in->get(), nullptr, CMS_BINARY) != 1) return {};
  if (m.carried_cert != nullptr) CMS_add1_cert(cms.get(), m.carried_cert);
  return *detail::cms_der(cms.get());
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
