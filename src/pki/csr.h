#pragma once
// Csr: a PKCS#10 certificate request, as SCEP clients send it and operators paste it
// (`crypto pki server <label> request pkcs10 terminal`), and make_csr() to build one
// (for our own enrolment and for tests).
//
// Failures: parse() takes untrusted bytes and fails with kInvalidArgument and a message
// an operator can act on; it never crashes on bad input.
//
// Ownership and threads: a Csr is immutable and shares its state with its copies
// (copying is cheap). Any number of threads may read one at once. Borrowed pointers stay
// valid while the Csr or a copy of it lives.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "pki/digest.h"
#include "pki/key.h"
#include "pki/ptr.h"

namespace scepter::pki {

// Limits Csr::parse() enforces on untrusted requests, before any expensive work.
inline constexpr std::size_t kMaxCsrDerBytes = 16 * 1024;
// PEM or base64 text: the DER limit in base64 with line breaks and PEM armour.
inline constexpr std::size_t kMaxCsrTextBytes = 24 * 1024;
inline constexpr std::size_t kMaxRequestedExtensions = 32;
inline constexpr std::size_t kMaxSubjectAltNames = 64;
// IOS's largest RSA key. The smallest one accepted is the CA's policy, not parse()'s.
inline constexpr int kMaxRsaBits = 4096;

class Csr {
 public:
  // Accepts DER, PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or bare base64
  // with any line breaks. Besides the syntax it checks that the public key is usable,
  // that the extension request (PKCS#9 extensionRequest, or Microsoft's older OID) is
  // well formed without duplicate extensions, and that a challengePassword is a string.
  // It does not check the signature: call verify_signature().
  //
  // The bytes are untrusted; each of these is refused with kInvalidArgument and a
  // message naming the limit. Sizes first, then the key, read from its encoding before
  // OpenSSL decodes the request (so no RSA or EC arithmetic ever runs on a refused key):
  //  - DER over kMaxCsrDerBytes, or PEM/base64 text over kMaxCsrTextBytes;
  //  - a public key other than RSA (rsaEncryption) or EC (id-ecPublicKey);
  //  - an RSA modulus over kMaxRsaBits, or a public exponent that is even, 1, or not
  //    below 2^32;
  //  - an EC key with explicit parameters or on a curve other than P-256, P-384, P-521;
  // then, in time linear (n log n for duplicates) in the request's size:
  //  - more than one extension request attribute, more than kMaxRequestedExtensions
  //    requested extensions, the same extension twice, or a subjectAltName with more
  //    than kMaxSubjectAltNames entries (or that does not decode).
  // The smallest RSA key accepted is the CA's policy: parse() takes any size up to
  // kMaxRsaBits.
  static Result<Csr> parse(std::string_view data);

  // Fails with kInvalidArgument when the request's own key does not verify its
  // signature (a corrupted or forged request). Checked once per parsed request (and its
  // copies), then remembered: the request path asks more than once.
  Status verify_signature() const;
  // Whether `key` made the signature: an RA that re-signs the requests it forwards signs
  // with its own key (a request it vouches for, not one proving possession).
  Status verify_signature_with(const Key& key) const;

  // The DER as received (the bytes that were signed and fingerprinted).
  const std::string& der() const;
  // "-----BEGIN CERTIFICATE REQUEST-----" PEM of der().
  std::string pem() const;
  // Borrowed.
  const X509_NAME* subject() const;
  // The requested extensions in request order; borrowed.
  const std::vector<Ptr<X509_EXTENSION>>& requested_extensions() const;
  // The challengePassword attribute as UTF-8 (PrintableString, UTF8String, IA5String and
  // the other DirectoryString types), or nullopt when absent.
  const std::optional<std::string>& challenge_password() const;
  // The value of the single-valued OCTET STRING attribute `oid` (dotted), or nullopt
  // when the request has none (or it is not one OCTET STRING). Decodes the request with
  // OpenSSL the first time (x509_req()).
  std::optional<std::string> octet_attribute(const char* oid) const;
  // Whether the request has attribute `oid` (dotted) at all, whatever its value.
  bool has_attribute(const char* oid) const;
  // The subject's public key (public part only).
  const Key& public_key() const;
  int key_bits() const;
  // MD5 of der() in 32 upper-case hex digits: IOS's "Certificate Request Fingerprint" and
  // the Fingerprint column of `show crypto pki server <label> requests`.
  std::string md5_fingerprint() const;
  // MD5 of the request's SubjectPublicKeyInfo DER in upper-case hex: the transactionID
  // IOS clients put in their SCEP messages.
  std::string spki_md5_hex() const;

  // The request as OpenSSL's X509_REQ, borrowed, for OpenSSL calls (tests, tools). Made
  // from der() the first time it is asked for: parse() reads the request without it,
  // because d2i_X509_REQ decodes the public key through OpenSSL 3.0's decoders (a third
  // of an RSA-2048 signature). Do not modify it.
  X509_REQ* x509_req() const;

 private:
  struct State;
  explicit Csr(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  std::shared_ptr<const State> state_;
};

// False only when the PKCS#10 DER certainly asks for no extension: it has no
// extensionRequest (or Microsoft's) attribute. Read by walking the DER, without decoding
// the key, so that listing stored requests does not parse each of them; anything it
// cannot walk answers true (parse it to know).
bool may_request_extensions(std::string_view der);

// The key as messages name it: "RSA 2048", "EC P-256" ("EC secp256k1" for a curve
// without a NIST name), or OpenSSL's type name for other keys ("ED25519").
std::string key_description(const Key& key);

// What make_csr() puts in a request.
struct CsrSpec {
  const X509_NAME* subject;  // borrowed
  const Key& key;            // signs; needs its private part
  // The key the request is for, when it is not `key` (an RA re-signing a client's
  // request); borrowed. Null: `key`.
  const Key* subject_key = nullptr;
  Hash hash = Hash::kSha256;
  std::string challenge_password = {};  // empty: no challengePassword attribute
  // Copied into an extensionRequest attribute, in this order; borrowed.
  std::vector<const X509_EXTENSION*> extensions = {};
  // Further attributes, each one OCTET STRING: (dotted OID, value).
  std::vector<std::pair<std::string, std::string>> octet_attributes = {};
};

// Builds and signs a PKCS#10 request. Fails with kInvalidArgument when the key has no
// private part or cannot sign with `hash` (ECDSA has no MD5).
Result<Csr> make_csr(const CsrSpec& spec);

}  // namespace scepter::pki
