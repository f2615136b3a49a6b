#pragma once
// The request policy: the one function that decides whether a request gets a
// certificate. Every path that can lead to a certificate asks it — `request pkcs10` and
// `grant` in the shell, SCEP PKCSReq and RenewalReq, a CertPoll or a resend of a stored
// request — and nothing issues without its kGrant. docs/policy.md is its table, and
// request_policy_test.cpp walks every cell.
//
// decide() is pure: it sees facts the caller established (who signed the request, what
// the request asks for, the configuration) and reads no clock, store or global state.
// Thread-safe.

#include <cstdint>
#include <optional>
#include <string>

#include <openssl/x509.h>

#include "ca/server_config.h"

namespace scepter::ca {

// How the request reached the decision.
enum class RequestPath {
  kManual,      // `crypto pki server X request pkcs10 ...`: pasted by the operator
  kPkcsReq,     // SCEP PKCSReq (also IOS's renewal: a PKCSReq signed by the old certificate)
  kRenewalReq,  // SCEP RenewalReq (RFC 8894 3.3.1.2)
  kPoll,        // a CertPoll, or a PKCSReq/RenewalReq resent with a stored transactionID
  kShellGrant,  // `crypto pki server X grant ID|all`: the operator's decision
  kAcme,        // ACME finalize (RFC 8555 7.4): an order's CSR
};

// Who signed a SCEP request, as the CA established it from the signer certificate.
enum class Signer {
  kNone,        // manual requests: no signer
  kSelfSigned,  // the usual throw-away certificate of a first enrolment
  kOurs,        // a valid, unrevoked certificate this CA issued (not an RA's), a
                // subordinate CA's included
  kRa,          // a valid, unrevoked RA certificate this CA issued
  kRevoked,     // a certificate this CA issued and revoked
  kExpired,     // a certificate this CA issued, outside its validity
  kForeign,     // anything else: another CA's certificate, or one bearing our name
                // that is not in our database
};

// What the request asks for.
enum class RequestClass {
  kEndEntity,  // an ordinary device certificate
  kRa,         // the subject names the RA role (cn= or ou= "ioscs RA")
  kCa,         // basicConstraints CA:TRUE: a subordinate CA, granted by the operator (or,
               // for its own rollover, by `grant auto rollover ca-cert`)
};

struct PolicyInput {
  RequestPath path = RequestPath::kPkcsReq;
  RequestClass request = RequestClass::kEndEntity;
  Signer signer = Signer::kNone;
  // With Signer::kOurs or Signer::kRa: the request has exactly the signer certificate's
  // subject and subjectAltNames. With Signer::kRa, also that its PKCS#10 is signed with its
  // own key: a request an RA forwards re-signed with the RA key is not the RA's own.
  bool same_identity = false;
  // The signer certificate is a CA certificate (basicConstraints CA:TRUE): with
  // Signer::kOurs, one of this CA's subordinate CAs.
  bool signer_is_ca = false;
  // The request carries the live one-time password (checked, not yet consumed).
  bool otp = false;
  // The pathLenConstraint of this CA's own certificate (nullopt: none). At 0 it may
  // certify no CA below it.
  std::optional<int> issuer_path_len = std::nullopt;
  // The request's key.
  bool rsa = true;
  int key_bits = 2048;
  // The request is an ACME order's (a finalize, or a poll of the request it stored).
  bool acme = false;
  // With acme: every name the request holds was validated by an ACME challenge for its
  // account, and the names are the order's, within the operator's allow-lists (the ACME
  // service establishes it; a stored ACME request that is "authorized" had it).
  bool names_validated = false;
  // Requests now waiting for a decision (pending or authorized); counted only for a new
  // request that may have to wait.
  std::uint64_t open_requests = 0;
};

enum class Verdict { kGrant, kPending, kReject };

// RFC 8894 failInfo values.
enum class ScepFailInfo {
  kBadAlg = 0,
  kBadMessageCheck = 1,
  kBadRequest = 2,
  kBadTime = 3,
  kBadCertId = 4
};

struct Decision {
  Verdict verdict = Verdict::kPending;
  // kPending: whether the request is stored as "authorized" (an RA vouched for it) rather
  // than "pending".
  bool authorized = false;
  // kGrant: the one-time password must be consumed for this grant to stand; if it is gone
  // by then, decide again with otp = false.
  bool consumes_otp = false;
  // kGrant: a renewal of the signer certificate (the new certificate records it): a
  // renewal under `grant auto renewal`, or a rollover under `grant auto rollover`.
  bool renewal = false;
  // kReject: what the client is told, and why (for the operator and the client alike).
  ScepFailInfo fail_info = ScepFailInfo::kBadRequest;
  std::string reason;
};

Decision decide(const PolicyInput& in, const ServerConfig& config);

// The seed's RA rule, for requests and certificates alike: an attribute cn or ou equal
// to "ioscs RA" (case ignored).
bool is_ra_certificate_name(const X509_NAME* subject);

const char* verdict_name(Verdict v);
const char* signer_name(Signer s);
const char* request_path_name(RequestPath p);
// RFC 8894's names: "badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId".
const char* fail_info_name(ScepFailInfo info);

}  // namespace scepter::ca
