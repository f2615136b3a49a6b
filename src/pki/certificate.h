#pragma once
// Certificate: an X.509 certificate, parsed or issued by us.
//
// Failures: bytes that are not a certificate give kInvalidArgument.
//
// Ownership and threads: a Certificate is immutable and shares its X509 and DER with its
// copies (copying is cheap). Any number of threads may read one Certificate, or copies of
// it, at once. Borrowed pointers (subject(), issuer(), x509()) stay valid while this
// Certificate or a copy of it lives.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "pki/key.h"
#include "pki/ptr.h"
#include "pki/serial_number.h"

namespace scepter::pki {

class Certificate {
 public:
  // Parses one DER certificate; trailing bytes are an error. The DER is kept as given.
  static Result<Certificate> from_der(std::string_view der);
  // The first "CERTIFICATE" block of `pem` (see pem_decode).
  static Result<Certificate> from_pem(std::string_view pem);
  // A certificate this process has just built and signed (pki::issue_certificate):
  // not parsed until something asks for more than der(), which for an enrolment's
  // CertRep is never (OpenSSL 3 decodes the public key of every certificate it parses).
  // Never for bytes from outside: from_der() checks them.
  static Certificate from_own_der(std::string der);
  // A Certificate with the DER of `x509` (e.g. one just signed), which is released.
  // kInvalidArgument when it is null, cannot be encoded or has unreadable validity times.
  static Result<Certificate> from_x509(Ptr<X509> x509);

  const std::string& der() const;
  std::string pem() const;

  // The serial number, split as Scepter numbers certificates (serial_number.h). Fails
  // with kInvalidArgument when it is negative or not below 2^128 (possible in
  // certificates from other CAs; Scepter's own serials always fit).
  Result<SerialNumber> serial() const;
  // The serial in upper-case hex without leading zeros: "1", "1F" ("0" for zero; a '-'
  // in front for a negative serial).
  std::string serial_hex() const;

  const X509_NAME* subject() const;
  const X509_NAME* issuer() const;
  TimePoint not_before() const;
  TimePoint not_after() const;

  // 32 upper-case hex digits: the CA fingerprint IOS shows (MD5 of the DER).
  std::string md5_fingerprint() const;
  // 40 upper-case hex digits.
  std::string sha1_fingerprint() const;
  // The subjectKeyIdentifier extension's bytes; empty when absent.
  std::string subject_key_id() const;
  // The authorityKeyIdentifier extension's keyIdentifier bytes; empty when absent.
  std::string authority_key_id() const;

  // Fails with kInvalidArgument when the key type is not one OpenSSL can use.
  Result<Key> public_key() const;
  // True when basicConstraints says CA:TRUE.
  bool is_ca() const;
  // True when `issuer_key` verifies this certificate's signature.
  bool verify_signature(const Key& issuer_key) const;
  // True when `issuer` could have issued this certificate (its subject is our issuer,
  // key identifiers and key usage agree: X509_check_issued) and its key verifies our
  // signature.
  bool signed_by(const Certificate& issuer) const;

  // Borrowed, for OpenSSL calls (CMS, PKCS#12, stores). Do not modify it.
  X509* x509() const;

  // Same DER.
  bool operator==(const Certificate& other) const { return der() == other.der(); }

 private:
  struct State;
  explicit Certificate(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  const State& parsed() const;

  std::shared_ptr<const State> state_;
};

}  // namespace scepter::pki
