#pragma once
// Server side of SCEP replies: the CertRep PKIMessage, and the certs-only structures
// of GetCACert (`application/x-x509-ca-ra-cert`) and GetNextCACert.
//
// A CertRep is a SignedData by the CA (or RA) whose signed attributes carry
// messageType "3", pkiStatus, failInfo (FAILURE only), transactionID (echoed),
// recipientNonce (= the request's senderNonce) and a fresh senderNonce. On SUCCESS its
// content is an EnvelopedData, encrypted to the requester's signer certificate with the
// request's cipher, around a degenerate certs-only SignedData with the certificate(s)
// or the CRL. On PENDING and FAILURE the content is an empty OCTET STRING.
//
// All functions are thread-safe; certificates and keys are borrowed and only read.

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "common/status.h"
#include "scep/message.h"
#include "scep/peer_cert.h"

namespace scepter::scep {

struct CertRepParams {
  // Who signs: the CA, or the RA in RA mode. Borrowed.
  X509* signer_cert = nullptr;
  EVP_PKEY* signer_key = nullptr;
  // The request's digest (DecodedRequest::digest or DecodeError::digest). For RSA keys
  // the signatureAlgorithm is rsaEncryption whatever the digest: strongSwan rejects
  // sha256WithRSAEncryption there, and old IOS follows the digest alone.
  DigestAlg digest = DigestAlg::kSha256;

  std::string transaction_id;   // echoed from the request
  std::string recipient_nonce;  // the request's senderNonce
  // Our senderNonce; empty means 16 fresh random bytes (the normal case).
  std::string sender_nonce;

  PkiStatus status = PkiStatus::kFailure;
  FailInfo fail_info = FailInfo::kBadRequest;  // FAILURE only
  std::string fail_info_text;                  // FAILURE only; omitted when empty (UTF-8)

  // SUCCESS only: the envelope goes to `recipient` (the request's signer
  // certificate, with an RSA key) with the request's `cipher`, and holds `certificates` (the issued
  // certificate first, then any chain) and/or `crl_der` (GetCRL), all as DER, put into the
  // reply byte for byte (a CRL is checked to be one DER SEQUENCE, not parsed).
  PeerCert recipient;
  CipherAlg cipher = CipherAlg::kAes128Cbc;
  std::vector<std::string> certificates;  // DER
  std::string crl_der;

  // signingTime; the system clock when unset. Pass the server's Clock so that
  // `clock set` is honoured.
  std::optional<std::time_t> signing_time;
  // Put signer_cert into the SignedData certificates (clients look for it there).
  bool include_signer_cert = true;
};

// The DER CertRep. kInvalidArgument when the parameters do not fit the status (SUCCESS
// without recipient or content, a CRL that is not DER, a cipher that is unavailable);
// kInternal when OpenSSL fails.
Result<std::string> encode_cert_rep(const CertRepParams& params);

// Degenerate certs-only SignedData (no signers, no content) holding `certs` in order:
// GetCACert with a chain or RA certificates (`application/x-x509-ca-ra-cert`, CA
// first), and the inner part of GetNextCACert. Also carries CRLs when given.
Result<std::string> encode_degenerate_certs(const std::vector<X509*>& certs,
                                            const std::vector<X509_CRL*>& crls = {});

}  // namespace scepter::scep
