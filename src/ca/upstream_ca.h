#pragma once
// UpstreamCa: the port through which scepterd is a SCEP client of another CA — a
// trustpoint's `crypto pki authenticate` and `crypto pki enroll`, a subordinate CA
// obtaining its CA certificate, an RA forwarding the requests it granted. The
// implementation over HTTP is scep::HttpUpstream (scep/upstream_client.h); ca/ tests use
// a fake that answers as a CA would.
//
// Errors, for every call:
//  - kUnavailable: the upstream could not be reached, timed out or answered with an HTTP
//    error. The caller tries again later; nothing was decided.
//  - kInvalidArgument: the answer is malformed, forged (a CertRep whose signature does not
//    verify, a transactionID or nonce that is not ours) or not usable (a GetCACert bundle
//    with no CA certificate, two RA certificates for one role). The message says which.
//
// Thread safety: implementations are safe to call from several threads at once.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ca/request_policy.h"
#include "common/clock.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace scepter::ca {

// GetCACaps, one flag per capability the upstream announced (case ignored, as RFC 8894
// §3.5.2 says). An upstream that answers GetCACaps with an HTTP error has none.
struct UpstreamCaps {
  bool post = false;                   // POSTPKIOperation
  bool renewal = false;                // Renewal
  bool get_next_ca_cert = false;       // GetNextCACert
  bool aes = false;                    // AES
  bool des3 = false;                   // DES3
  bool sha1 = false;                   // SHA-1
  bool sha256 = false;                 // SHA-256
  bool sha512 = false;                 // SHA-512
  bool scep_standard = false;          // SCEPStandard (implies AES, POST, SHA-256)
  std::vector<std::string> announced;  // every line, as sent (for the debug trace)
};

// What GetCACert returned, with each certificate's role established as RFC 8894 §3.5.1
// (and the clients that follow it) do.
struct UpstreamCertificates {
  // The CA that issues: first, then its issuers as far as the upstream sent them (for a
  // bundle, up to the self-signed root when included). Never empty.
  std::vector<pki::Certificate> ca_chain;
  // An RA in front of the CA: the certificate whose key verifies CertReps
  // (digitalSignature) and the one requests are encrypted to (keyEncipherment). One
  // certificate with both usages fills both. Empty when there is no RA.
  std::optional<pki::Certificate> ra_signer;
  std::optional<pki::Certificate> ra_encrypter;

  const pki::Certificate& issuing_ca() const { return ca_chain.front(); }
  // Whom a PKIOperation is encrypted to, and whose signature a CertRep must carry.
  const pki::Certificate& recipient() const {
    return ra_encrypter ? *ra_encrypter : ca_chain.front();
  }
  const pki::Certificate& reply_signer() const { return ra_signer ? *ra_signer : ca_chain.front(); }
  // The certificate the operator accepts in `crypto pki authenticate`: the root of what
  // was sent (the last of ca_chain).
  const pki::Certificate& root() const { return ca_chain.back(); }
};

// One PKIOperation.
struct UpstreamRequest {
  enum class Kind { kPkcsReq, kRenewalReq, kCertPoll };
  std::string url;  // the trustpoint's `enrollment url` (http://host[:port][/path])
  Kind kind = Kind::kPkcsReq;
  // The PKCS#10 (DER). For kCertPoll, the request being polled: its subject goes into the
  // IssuerAndSubject with the issuing CA's name.
  std::string csr_der;
  std::string transaction_id;  // the same for a request and all its polls
  // The certificate that signs: the current one for a renewal, or the RA's when an RA
  // forwards. Absent for a first enrolment: the implementation makes a throw-away
  // self-signed certificate for signer_key with the request's subject, as clients do.
  std::optional<pki::Certificate> signer_cert = std::nullopt;
  // Signs the message and opens the reply (required; optional only because pki::Key has
  // no empty state).
  std::optional<pki::Key> signer_key = std::nullopt;
  UpstreamCertificates upstream;  // as authenticated
  UpstreamCaps caps;              // chooses POST or GET, the cipher and the digest
};

// A CertRep, checked: signed by upstream.reply_signer(), transactionID and recipientNonce
// those of the request.
struct UpstreamReply {
  enum class Status { kSuccess, kPending, kFailure };
  Status status = Status::kFailure;
  std::optional<ScepFailInfo> fail_info;  // kFailure, when the upstream sent one
  std::string fail_text;                  // failInfoText, when sent
  // kSuccess: the certificates of the reply, in the upstream's order (the issued one is
  // the one whose key is the request's).
  std::vector<pki::Certificate> certificates;
  // What was used, for the debug trace: "POST", "SHA-256", "AES-128-CBC".
  std::string method;
  std::string digest;
  std::string cipher;
};

// Where a trustpoint's requests go, as its configuration and `crypto pki authenticate`
// left it: a subordinate CA or an RA sends through the trustpoint of its own label.
struct UpstreamTarget {
  std::string url;
  UpstreamCertificates certificates;
  UpstreamCaps caps;
  Seconds retry_period{60};  // `enrollment retry period`
};

class UpstreamCa {
 public:
  virtual ~UpstreamCa() = default;
  // GetCACaps with `message=ident` (ident may be empty: no message parameter).
  virtual Result<UpstreamCaps> get_ca_caps(const std::string& url, const std::string& ident) = 0;
  // GetCACert with `message=ident`: a single CA certificate or a certs-only bundle.
  virtual Result<UpstreamCertificates> get_ca_cert(const std::string& url,
                                                   const std::string& ident) = 0;
  // PKCSReq, RenewalReq or CertPoll, and the checked CertRep.
  virtual Result<UpstreamReply> send(const UpstreamRequest& request) = 0;
  // The CA's CRL by the plain `operation=GetCRL` (what IOS and scepterd serve for HTTP
  // CDPs), with `message=ident`: the DER bytes, unchecked (the caller verifies them).
  virtual Result<std::string> get_crl(const std::string& url, const std::string& ident) = 0;
  // GetNextCACert with `message=ident`, during the upstream's CA rollover: the rollover
  // certificates, classified as GetCACert's, from an answer signed by `current` (its
  // issuing CA, or its RA signing certificate). Besides the errors above, kNotFound when
  // the upstream has no rollover certificate (HTTP 404). This default, for clients that
  // cannot fetch one, fails with kUnavailable "not supported by this client".
  virtual Result<UpstreamCertificates> get_next_ca_cert(const std::string& /*url*/,
                                                        const std::string& /*ident*/,
                                                        const UpstreamCertificates& /*current*/) {
    return fail(unavailable("GetNextCACert is not supported by this client"));
  }
};

}  // namespace scepter::ca
