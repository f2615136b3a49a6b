#pragma once
// OCSP (RFC 6960) as a responder speaks it: the request read from untrusted bytes, and
// the BasicOCSPResponse written and signed, in the RFC 5019 lightweight profile's shape
// (GeneralizedTime everywhere, thisUpdate and nextUpdate in each SingleResponse), with
// one departure: the responderID is byName, not byKey, because GnuTLS finds a responder
// whose certificate the response does not carry by its name alone.
//
// Both directions frame DER by hand with crl_der.h's helpers, for the reason given there:
// a responder answers thousands of requests a second, and building OpenSSL's OCSP_*
// objects only to encode them again costs more than the framing. The request is read
// into views of the caller's buffer; the CertID of each request is echoed byte for byte
// in its SingleResponse, as RFC 6960 4.2.1 requires of the certID "for which this
// response is provided".
//
// All functions are thread-safe; a ResponseSigner is immutable once made.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/digest.h"
#include "pki/key.h"

namespace scepter::pki {
class DerSigner;  // pki/der_signer.h
}  // namespace scepter::pki

namespace scepter::pki::ocsp {

// OCSPResponseStatus (RFC 6960 4.2.1).
enum class ResponseStatus : int {
  kSuccessful = 0,
  kMalformedRequest = 1,
  kInternalError = 2,
  kTryLater = 3,
  kSigRequired = 5,
  kUnauthorized = 6,
};

// More CertIDs in one request is a malformed request: RFC 5019 clients send one, and
// each costs a database read.
inline constexpr std::size_t kMaxCertIds = 16;
// RFC 8954: a responder takes nonces of 1 to 32 octets and refuses longer ones.
inline constexpr std::size_t kMaxNonceBytes = 32;

// One CertID of a request, as views into the request.
struct CertId {
  std::string_view whole;  // the CertID TLV
  // The CertID's hash; nullopt for an algorithm this responder does not compute (the
  // request then names no issuer it serves).
  std::optional<Hash> hash;
  std::string_view issuer_name_hash;  // OCTET STRING contents
  std::string_view issuer_key_hash;   // OCTET STRING contents
  std::string_view serial;            // INTEGER contents (two's complement, as sent)
};

struct Request {
  std::vector<CertId> ids;  // 1..kMaxCertIds
  // The requestExtensions' nonce Extension TLV, echoed whole in the response; empty
  // when the request has none.
  std::string_view nonce_extension;
};

// Reads a DER OCSPRequest. A signature (optionalSignature) and a requestorName are read
// past, not checked: RFC 6960 makes them optional and this responder answers anyone.
// Fails with kInvalidArgument on anything that is not a DER OCSPRequest, on more than
// kMaxCertIds CertIDs or none, and on a nonce outside 1..kMaxNonceBytes octets.
Result<Request> parse_request(std::string_view der);

// The issuer a responder answers for: its name and key hashed with each CertID hash.
class IssuerMatch {
 public:
  explicit IssuerMatch(const Certificate& issuer);
  // Whether `id` names this issuer (both hashes equal, in the CertID's algorithm).
  bool matches(const CertId& id) const;

 private:
  struct Hashes {
    Hash hash;
    std::string name;
    std::string key;
  };
  std::vector<Hashes> hashes_;
};

enum class CertStatus { kGood, kRevoked, kUnknown };

// One SingleResponse to write.
struct SingleStatus {
  std::string_view cert_id;  // CertId::whole
  CertStatus status = CertStatus::kUnknown;
  TimePoint revoked_at = {};       // kRevoked
  std::optional<int> reason = {};  // kRevoked: CRLReason, when one was given
  TimePoint this_update = {};
  std::optional<TimePoint> next_update = {};
};

// Signs responses for one responder: the CA itself, or a delegated responder whose
// certificate the CA issued (then sent in the response's certs, RFC 6960 4.2.2.2).
class ResponseSigner {
 public:
  // `include_certificate`: put `certificate` in the response (a delegated responder's).
  // Fails with kInvalidArgument when the key cannot sign with `hash`.
  static Result<ResponseSigner> create(const Certificate& certificate, const Key& key, Hash hash,
                                       bool include_certificate);

  // A successful OCSPResponse (the whole DER) for `statuses`, produced at `produced_at`,
  // with `nonce_extension` (Request::nonce_extension) as its responseExtensions when not
  // empty. Fails with kInternal when signing fails (a token error), kInvalidArgument for a
  // time out of range.
  Result<std::string> sign(std::span<const SingleStatus> statuses, TimePoint produced_at,
                           std::string_view nonce_extension) const;

  // Whether sign() is a computation in this process (false: the key is on a token, and
  // signing waits for it).
  bool signs_in_process() const { return key_.has_value() && key_->token().empty(); }

 private:
  ResponseSigner() = default;

  std::optional<Key> key_;
  const EVP_MD* md_ = nullptr;
  // Set up once and copied for each response when the key is in this process (a token's
  // context is set up for each).
  std::shared_ptr<const DerSigner> prepared_;
  std::string responder_id_;  // [1] EXPLICIT Name TLV (byName)
  std::string certs_;         // [0] EXPLICIT SEQUENCE OF Certificate TLV, or empty
};

// An unsuccessful OCSPResponse: the status alone, unsigned (RFC 6960 4.2.1).
std::string error_response(ResponseStatus status);

}  // namespace scepter::pki::ocsp
