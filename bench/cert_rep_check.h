#pragma once
// Checks one answer of a SCEP server to a PKCSReq, for the load generator: the HTTP
// status, the CertRep (signed by the CA, our transactionID and nonce, envelope opened
// with the requester's key), and for SUCCESS the certificate for the requester's key and
// its chain to the CA. Thread-safe: any number of threads may check at once with one
// X509_STORE.

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "http_client.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "pki/ptr.h"
#include "scep/client.h"
#include "scep/message.h"

namespace scepter::bench {

// What one answer is, once decoded and checked against the CA and the request.
struct CertRepCheck {
  enum class Kind { kSuccess, kPending, kFailure, kHttpError, kBadReply, kWrongKey };
  Kind kind = Kind::kHttpError;
  std::string detail;  // the problem; the failInfo of a FAILURE; why a chain failed
  bool chain_ok = false;
  std::string cipher;  // of a SUCCESS envelope
  std::string serial;  // upper-case hex, of a SUCCESS
  std::string der;     // the issued certificate, of a SUCCESS
};

// `store` holds the CA certificate; `reply` is nullopt when no answer came.
inline CertRepCheck check_cert_rep(const pki::Certificate& ca, X509_STORE* store,
                                   const std::optional<HttpReply>& reply, const pki::Key& key,
                                   std::string_view transaction_id, std::string_view nonce) {
  CertRepCheck c;
  if (!reply || reply->status != 200) {
    c.kind = CertRepCheck::Kind::kHttpError;
    c.detail = reply ? "HTTP " + std::to_string(reply->status) + ": " + reply->body.substr(0, 200)
                     : "no HTTP answer";
    return c;
  }
  auto rep = scep::decode_cert_rep(reply->body, key.evp(), ca.x509());
  if (!rep.has_value()) {
    c.kind = CertRepCheck::Kind::kBadReply;
    c.detail = rep.error().to_string();
    return c;
  }
  if (rep->transaction_id != transaction_id || rep->recipient_nonce != nonce) {
    c.kind = CertRepCheck::Kind::kBadReply;
    c.detail = "transactionID or recipientNonce does not match";
    return c;
  }
  if (rep->status == scep::PkiStatus::kPending) {
    c.kind = CertRepCheck::Kind::kPending;
    return c;
  }
  if (rep->status == scep::PkiStatus::kFailure) {
    c.kind = CertRepCheck::Kind::kFailure;
    c.detail = std::string(scep::fail_info_name(*rep->fail_info)) +
               (rep->fail_info_text.empty() ? "" : " (" + rep->fail_info_text + ")");
    return c;
  }
  X509* issued = nullptr;
  for (auto& x : rep->certificates) {
    if (EVP_PKEY_eq(X509_get0_pubkey(x.get()), key.evp()) == 1) issued = x.get();
  }
  if (issued == nullptr) {
    c.kind = CertRepCheck::Kind::kWrongKey;
    c.detail = "no certificate for the requester's key";
    return c;
  }
  c.kind = CertRepCheck::Kind::kSuccess;
  pki::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  c.chain_ok = ctx && X509_STORE_CTX_init(ctx.get(), store, issued, nullptr) == 1;
  if (c.chain_ok) {
    // Checked as of one second on. OpenSSL takes the time from time(), which reads the
    // kernel's coarse clock: for a few milliseconds after a second begins it still says
    // the second before, while the server dated the certificate (no backdating) with the
    // precise clock. A certificate checked at once then seemed "not yet valid".
    X509_STORE_CTX_set_time(ctx.get(), 0, std::time(nullptr) + 1);
    c.chain_ok = X509_verify_cert(ctx.get()) == 1;
  }
  if (!c.chain_ok) {
    c.detail = X509_verify_cert_error_string(ctx ? X509_STORE_CTX_get_error(ctx.get()) : 0);
    // Which certificate, and its validity against the time of the check.
    X509* bad = ctx ? X509_STORE_CTX_get_current_cert(ctx.get()) : nullptr;
    if (bad != nullptr) {
      pki::Ptr<BIO> mem(BIO_new(BIO_s_mem()));
      X509_NAME_print_ex(mem.get(), X509_get_subject_name(bad), 0, XN_FLAG_ONELINE);
      BIO_puts(mem.get(), ", notBefore ");
      ASN1_TIME_print(mem.get(), X509_get0_notBefore(bad));
      BIO_printf(mem.get(), ", checked as of %lld", static_cast<long long>(std::time(nullptr) + 1));
      char* data = nullptr;
      const long len = BIO_get_mem_data(mem.get(), &data);
      c.detail += " (" + std::string(data, static_cast<std::size_t>(len)) + ")";
    }
  }
  pki::Ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(issued), nullptr));
  char* hex = bn ? BN_bn2hex(bn.get()) : nullptr;
  c.serial = hex ? hex : "?";
  OPENSSL_free(hex);
  c.cipher = rep->cipher ? std::string(scep::cipher_name(*rep->cipher)) : "?";
  unsigned char* der = nullptr;
  const int len = i2d_X509(issued, &der);
  if (len > 0) c.der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  ERR_clear_error();
  return c;
}

}  // namespace scepter::bench
