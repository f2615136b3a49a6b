#pragma once
// OpenSSL's side of OCSP for tests: requests as `openssl ocsp` builds them, and responses
// read and verified by OpenSSL (pki/ocsp_test.cpp, ca/ocsp_responder_test.cpp).

#include <ctime>
#include <string>
#include <vector>

#include <openssl/ocsp.h>

#include "pki/certificate.h"
#include "pki/ptr.h"

namespace scepter::pki {
template <>
struct Free<OCSP_REQUEST> {
  void operator()(OCSP_REQUEST* p) const { OCSP_REQUEST_free(p); }
};
template <>
struct Free<OCSP_RESPONSE> {
  void operator()(OCSP_RESPONSE* p) const { OCSP_RESPONSE_free(p); }
};
template <>
struct Free<OCSP_BASICRESP> {
  void operator()(OCSP_BASICRESP* p) const { OCSP_BASICRESP_free(p); }
};
template <>
struct Free<OCSP_CERTID> {
  void operator()(OCSP_CERTID* p) const { OCSP_CERTID_free(p); }
};
template <>
struct Free<AUTHORITY_INFO_ACCESS> {
  void operator()(AUTHORITY_INFO_ACCESS* p) const { AUTHORITY_INFO_ACCESS_free(p); }
};
}  // namespace scepter::pki

namespace scepter::pki::ocsp::testing {

// An OCSPRequest for `serials` of `issuer`, as OpenSSL (and so `openssl ocsp`) builds it.
inline std::string openssl_request(const Certificate& issuer, const std::vector<long>& serials,
                                   const EVP_MD* md = EVP_sha1(), int nonce_len = 0) {
  Ptr<OCSP_REQUEST> req(OCSP_REQUEST_new());
  for (long serial : serials) {
    Ptr<ASN1_INTEGER> n(ASN1_INTEGER_new());
    ASN1_INTEGER_set(n.get(), serial);
    OCSP_CERTID* id = OCSP_cert_id_new(md, X509_get_subject_name(issuer.x509()),
                                       X509_get0_pubkey_bitstr(issuer.x509()), n.get());
    OCSP_request_add0_id(req.get(), id);
  }
  if (nonce_len > 0) OCSP_request_add1_nonce(req.get(), nullptr, nonce_len);
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(req.get(), &der);
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

struct Checked {
  int response_status = -1;
  int verify = 0;  // OCSP_basic_verify
  int cert_status = -1;
  int reason = -1;
  long long revoked_at = -1;
  long long this_update = -1;
  long long next_update = -1;
  int nonce = -9;  // OCSP_check_nonce
};

inline long long unix_of(const ASN1_GENERALIZEDTIME* t) {
  if (t == nullptr) return -1;
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return timegm(&tm);
}

// Reads `response` with OpenSSL, trusting `ca`, for the status of `serial`; the chain is
// checked as of `at` (0: now).
inline Checked openssl_check(const std::string& response, const Certificate& ca, long serial,
                             const std::string& request_der, std::time_t at = 0) {
  Checked c;
  const auto* p = reinterpret_cast<const unsigned char*>(response.data());
  Ptr<OCSP_RESPONSE> resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size())));
  if (!resp) return c;
  c.response_status = OCSP_response_status(resp.get());
  Ptr<OCSP_BASICRESP> basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) return c;
  Ptr<X509_STORE> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.x509());
  if (at != 0) X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), at);
  STACK_OF(X509)* certs = sk_X509_new_null();
  sk_X509_push(certs, ca.x509());
  c.verify = OCSP_basic_verify(basic.get(), certs, store.get(), 0);
  sk_X509_free(certs);
  const auto* q = reinterpret_cast<const unsigned char*>(request_der.data());
  Ptr<OCSP_REQUEST> req(d2i_OCSP_REQUEST(nullptr, &q, static_cast<long>(request_der.size())));
  c.nonce = OCSP_check_nonce(req.get(), basic.get());
  Ptr<ASN1_INTEGER> n(ASN1_INTEGER_new());
  ASN1_INTEGER_set(n.get(), serial);
  Ptr<OCSP_CERTID> id(OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca.x509()),
                                       X509_get0_pubkey_bitstr(ca.x509()), n.get()));
  ASN1_GENERALIZEDTIME* rev = nullptr;
  ASN1_GENERALIZEDTIME* thisupd = nullptr;
  ASN1_GENERALIZEDTIME* nextupd = nullptr;
  if (OCSP_resp_find_status(basic.get(), id.get(), &c.cert_status, &c.reason, &rev, &thisupd,
                            &nextupd) == 1) {
    c.revoked_at = unix_of(rev);
    c.this_update = unix_of(thisupd);
    c.next_update = unix_of(nextupd);
  }
  return c;
}

}  // namespace scepter::pki::ocsp::testing
