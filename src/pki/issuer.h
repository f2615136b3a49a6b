#pragma once
// Making certificates the way the IOS certificate server does (ios-cs-behaviour.md
// 2.1 and 2.2): a self-signed CA certificate, and end-entity certificates from PKCS#10
// requests. Policy (who may get what, lifetimes, serial allocation, truncation to the
// CA's lifetime) belongs to ca/; these functions put exactly what they are given into
// the certificate.
//
// Failures: kInvalidArgument for inputs that cannot make a valid certificate (serial 0,
// not_after not after not_before, a key that cannot sign with the hash, a CSR whose
// signature does not verify); kPermissionDenied when a request asks for a CA certificate
// and the spec does not allow it; kInternal for OpenSSL failures.
//
// Thread-safe: the functions share no state; the same CA Key and Certificate may be used
// by several threads at once.

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/key.h"

namespace scepter::pki {

struct CaCertSpec {
  const X509_NAME* subject;  // subject and issuer; borrowed
  const Key& key;            // the CA key pair
  std::uint64_t serial = 1;
  TimePoint not_before = {};  // used as given: no backdating
  TimePoint not_after = {};
  Hash hash = Hash::kSha256;
};

// A self-signed X.509 v3 CA certificate with, in this order: basicConstraints critical
// CA:TRUE (no pathLen), keyUsage critical digitalSignature+keyCertSign+cRLSign,
// authorityKeyIdentifier (keyid only, equal to the SKI), subjectKeyIdentifier (SHA-1 of
// the subjectPublicKey BIT STRING, RFC 5280 4.2.1.2 method 1). Signed with `hash`
// (PKCS#1 v1.5 for RSA, ECDSA for EC).
Result<Certificate> make_ca_certificate(const CaCertSpec& spec);

struct IssueSpec {
  const Csr& csr;
  const Certificate& ca_cert;
  const Key& ca_key;  // must match ca_cert
  std::uint64_t serial = 0;
  TimePoint not_before = {};  // used as given
  TimePoint not_after = {};
  Hash hash = Hash::kSha256;
  // When set, a cRLDistributionPoints extension with this one fullName URI is added.
  std::string cdp_url = {};
  // A request for basicConstraints CA:TRUE is refused (kPermissionDenied) unless this is
  // set: ca/ sets it when granting a subordinate CA (`mode sub-cs`) request.
  bool allow_ca = false;
};

// An X.509 v3 certificate for the request's key: issuer = the CA certificate's subject
// (byte for byte), subject = the request's subject copied verbatim (same RDN order,
// string types and multi-valued RDNs). Extensions: the requested ones, unchanged and in
// request order, except a requested authorityKeyIdentifier, which is dropped; then
// authorityKeyIdentifier (keyid of the CA's SKI), subjectKeyIdentifier (computed as
// above, unless the request carried one) and, with cdp_url, cRLDistributionPoints.
// Verifies the request's signature first.
Result<Certificate> issue_certificate(const IssueSpec& spec);

// True when the request asks for basicConstraints CA:TRUE (or carries one that cannot be
// decoded): issue_certificate() refuses it unless IssueSpec::allow_ca is set.
bool requests_ca_certificate(const Csr& csr);

// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
std::string key_identifier(const Key& key);

}  // namespace scepter::pki
