#pragma once
// Client side of SCEP: building PKIOperation requests and reading the CertRep, as an
// IOS router, sscep or strongSwan would. Used by the tests, the load generator and the
// sub-CA / RA upstream client.
//
// All functions are thread-safe; certificates and keys are borrowed and only read.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "common/status.h"
#include "pki/ptr.h"
#include "scep/message.h"

namespace scepter::scep {

struct PkiRequestParams {
  MessageType type = MessageType::kPkcsReq;
  // DER: PKCS#10 (PKCSReq, RenewalReq), IssuerAndSubject (CertPoll) or
  // IssuerAndSerialNumber (GetCert, GetCRL); see payload.h.
  std::string payload;
  // The requester's signing certificate and key: a throw-away self-signed certificate
  // (make_self_signed_signer) or, for renewal, the current one. Borrowed.
  X509* signer_cert = nullptr;
  EVP_PKEY* signer_key = nullptr;
  // Whom the envelope is for: the CA, or the RA's encryption certificate. RSA only.
  X509* recipient_cert = nullptr;
  DigestAlg digest = DigestAlg::kSha256;
  CipherAlg cipher = CipherAlg::kAes128Cbc;
  std::string transaction_id;  // required; see transaction_id_for()
  std::string sender_nonce;    // empty means 16 fresh random bytes
  // Indefinite-length BER (constructed OCTET STRINGs, 0x80 lengths), as OpenSSL's
  // streaming encoder used by sscep and certmonger produces; DER otherwise.
  bool ber = false;
};

// The PKIMessage, ready for POST or encode_get_message(). kInvalidArgument when a
// parameter is missing or the cipher is unavailable.
Result<std::string> encode_pki_request(const PkiRequestParams& params);

// A CertRep as the requester sees it.
struct CertRep {
  PkiStatus status = PkiStatus::kFailure;
  std::optional<FailInfo> fail_info;  // FAILURE only
  std::string fail_info_text;         // empty when the server sent none
  std::string transaction_id;
  std::string recipient_nonce;  // must equal the request's senderNonce
  std::string sender_nonce;
  DigestAlg digest = DigestAlg::kSha256;
  std::optional<CipherAlg> cipher;  // SUCCESS: of the envelope (should be the request's)
  // SUCCESS: the content of the degenerate PKCS#7, in the server's order.
  std::vector<pki::Ptr<X509>> certificates;
  pki::Ptr<X509_CRL> crl;  // GetCRL
};

// Checks the CertRep's signature against `signer_cert` (the CA, or the RA that
// answers) without chain building, reads the attributes, and on SUCCESS opens the
// envelope with `requester_key`. kInvalidArgument for anything malformed or forged.
// Comparing transactionID and nonces with the request is left to the caller.
Result<CertRep> decode_cert_rep(std::string_view der, EVP_PKEY* requester_key, X509* signer_cert);

// The certificates and CRLs of a degenerate certs-only PKCS#7 (GetCACert with
// `application/x-x509-ca-ra-cert`, or the inside of a CertRep envelope).
struct CertsOnly {
  std::vector<pki::Ptr<X509>> certificates;
  std::vector<pki::Ptr<X509_CRL>> crls;
};
Result<CertsOnly> decode_certs_only(std::string_view der);

// A throw-away self-signed certificate for signing requests, like clients make: v3,
// random positive serial, subject = issuer = `subject`, valid from an hour ago for ten
// years, no extensions, signed with `digest`.
Result<pki::Ptr<X509>> make_self_signed_signer(EVP_PKEY* key, const X509_NAME* subject,
                                               DigestAlg digest = DigestAlg::kSha256);

// The transactionID IOS sends: upper-case hex of MD5 over the DER SubjectPublicKeyInfo
// (32 characters). The same key always gives the same ID.
Result<std::string> transaction_id_for(EVP_PKEY* key);
Result<std::string> transaction_id_for(X509_REQ* csr);

}  // namespace scepter::scep
