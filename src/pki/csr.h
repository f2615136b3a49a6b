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

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pki/digest.h"
#include "pki/key.h"
#include "pki/ptr.h"

namespace scepter::pki {

class Csr {
 public:
  // Accepts DER, PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or bare base64
  // with any line breaks. Besides the syntax it checks that the public key is usable,
  // that the extension request (PKCS#9 extensionRequest, or Microsoft's older OID) is
  // well formed without duplicate extensions, and that a challengePassword is a string.
  // It does not check the signature: call verify_signature().
  static Result<Csr> parse(std::string_view data);

  // Fails with kInvalidArgument when the request's own key does not verify its
  // signature (a corrupted or forged request).
  Status verify_signature() const;

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
  // The subject's public key (public part only).
  const Key& public_key() const;
  int key_bits() const;
  // MD5 of der() in 32 upper-case hex digits: IOS's "Certificate Request Fingerprint" and
  // the Fingerprint column of `show crypto pki server <label> requests`.
  std::string md5_fingerprint() const;
  // MD5 of the request's SubjectPublicKeyInfo DER in upper-case hex: the transactionID
  // IOS clients put in their SCEP messages.
  std::string spki_md5_hex() const;

  // Borrowed, for OpenSSL calls. Do not modify it.
  X509_REQ* x509_req() const;

 private:
  struct State;
  explicit Csr(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  std::shared_ptr<const State> state_;
};

// What make_csr() puts in a request.
struct CsrSpec {
  const X509_NAME* subject;  // borrowed
  const Key& key;            // needs its private part
  Hash hash = Hash::kSha256;
  std::string challenge_password = {};  // empty: no challengePassword attribute
  // Copied into an extensionRequest attribute, in this order; borrowed.
  std::vector<const X509_EXTENSION*> extensions = {};
};

// Builds and signs a PKCS#10 request. Fails with kInvalidArgument when the key has no
// private part or cannot sign with `hash` (ECDSA has no MD5).
Result<Csr> make_csr(const CsrSpec& spec);

}  // namespace scepter::pki
