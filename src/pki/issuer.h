#pragma once
// Making certificates the way the IOS certificate server does (ios-cs-behaviour.md
// 2.1 and 2.2): a self-signed CA certificate, and certificates from PKCS#10 requests
// whose extensions follow a profile (profile.h), never the request's word. Policy (who
// may get what, lifetimes, serial allocation, truncation to the CA's lifetime, the
// minimum key size) belongs to ca/; these functions put what they are given, and what
// the profile allows, into the certificate.
//
// Failures: kInvalidArgument for inputs that cannot make a valid certificate (serial 0,
// not_after not after not_before, a key that cannot sign with the hash, a CSR whose
// signature does not verify, a negative CA path length, an empty subject without a
// subjectAltName the profile keeps); kInternal for OpenSSL failures.
//
// Thread-safe: the functions share no state; the same CA Key and Certificate may be used
// by several threads at once.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "pki/serial_number.h"

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

// What a certificate the CA issues to one of its own keys is for.
enum class ServiceRole {
  // A CA's separate SCEP key, for the part an RA certificate plays in RFC 8894 3.5.1
  // (clients encrypt their requests to it, and it signs the replies): an RSA key;
  // keyUsage critical digitalSignature+keyEncipherment (the one-RA-certificate shape
  // clients sort by keyUsage), no EKU.
  kScepEncryption,
  // A delegated OCSP responder (RFC 6960 4.2.2.2): keyUsage critical digitalSignature,
  // extendedKeyUsage OCSPSigning, and id-pkix-ocsp-nocheck (relying parties do not ask
  // about the responder's own certificate, which is short-lived instead); no CDP.
  kOcspSigning,
  // The TLS server certificate of scepterd's own HTTPS listener (EST): keyUsage critical
  // digitalSignature (and keyEncipherment for an RSA key), extendedKeyUsage serverAuth,
  // subjectAltName with the names and addresses clients connect to; no CDP.
  kTlsServer,
};

struct ServiceCertSpec {
  const X509_NAME* subject;  // borrowed
  const Key& key;            // the key certified (its public half is enough)
  const Certificate& ca_cert;
  const Key& ca_key;  // must match ca_cert
  SerialNumber serial = {};
  TimePoint not_before = {};  // used as given
  TimePoint not_after = {};
  Hash hash = Hash::kSha256;
  std::string cdp_url = {};  // as in IssueSpec; kScepEncryption only
  ServiceRole role = ServiceRole::kScepEncryption;
  // kTlsServer: the subjectAltName entries (DNS names, IPv4/IPv6 literals); at least one.
  std::vector<std::string> dns_names = {};
  std::vector<std::string> ip_addresses = {};
};

// The certificate of one of the CA's own keys, in `role`. Extensions, in this order:
// basicConstraints critical CA:FALSE; keyUsage; extendedKeyUsage and ocsp-nocheck
// (kOcspSigning), extendedKeyUsage serverAuth (kTlsServer); authorityKeyIdentifier;
// subjectKeyIdentifier; subjectAltName (kTlsServer); cRLDistributionPoints when cdp_url is
// set (kScepEncryption). Fails with kInvalidArgument for a non-RSA kScepEncryption key, a
// kTlsServer without names or with an address that is not an IP literal.
Result<Certificate> make_service_certificate(const ServiceCertSpec& spec);
// The subjectAltName entries make_service_certificate() gives a kTlsServer certificate
// for `spec`'s names and addresses, as pki::alt_names() reads them back (canonical,
// sorted): whether a certificate made earlier still names what is wanted.
Result<std::vector<std::string>> tls_server_alt_names(const ServiceCertSpec& spec);

struct IssueSpec {
  const Csr& csr;
  // The key that signed the request when it is not the request's own: an RA of this CA
  // that re-signed a client's request (ca/ra_forwarder.h). Null: the request's key.
  const Key* csr_signer = nullptr;
  const Certificate& ca_cert;
  const Key& ca_key;  // must match ca_cert
  SerialNumber serial = {};
  TimePoint not_before = {};  // used as given
  TimePoint not_after = {};
  Hash hash = Hash::kSha256;
  // When set, a cRLDistributionPoints extension with this one fullName URI is added. A
  // CDP in the request is never used.
  std::string cdp_url = {};
  // When set, an authorityInfoAccess extension with this one OCSP URI (id-ad-ocsp).
  std::string ocsp_url = {};
  // Kept for existing callers; prefer `ca`. When set and `ca` is not, a request that asks
  // for basicConstraints CA:TRUE gets the CA profile without a path length (any other
  // request gets the end-entity profile).
  bool allow_ca = false;
  // Set: a subordinate CA certificate, whatever the request asks (ca/ sets it when the
  // operator grants a `mode sub-cs` request). Unset: an end-entity certificate, even for
  // a request that asks for CA:TRUE.
  std::optional<CaProfile> ca = std::nullopt;
  // Extended key usages added to end-entity certificates (IOS `eku`).
  std::vector<Eku> extra_ekus = {};
};

// The Profile issue_certificate() applies for `spec` (its ca, allow_ca and extra_ekus):
// pass it to evaluate_profile() to show the operator what granting would give.
Profile issue_profile(const IssueSpec& spec);

// An X.509 v3 certificate for the request's key: issuer = the CA certificate's subject
// (byte for byte), subject = the request's subject copied verbatim (same RDN order,
// string types and multi-valued RDNs). Extensions, in this order:
//   1. basicConstraints, critical: CA:FALSE, or CA:TRUE with the CaProfile's pathLen;
//   2. keyUsage, critical: digitalSignature+keyEncipherment (RSA key),
//      digitalSignature+keyAgreement (EC key), digitalSignature+keyCertSign+cRLSign (CA);
//   3. extendedKeyUsage, end-entity only and when not empty: the requested EKUs in the
//      allow-list plus extra_ekus (see profile.h);
//   4. subjectAltName, when the request has DNS, IP, email or URI entries: those, in
//      request order; critical when the subject is empty;
//   5. authorityKeyIdentifier: keyid of the CA certificate's SKI;
//   6. subjectKeyIdentifier: computed from the request's key (method 1, below);
//   7. cRLDistributionPoints, with cdp_url only;
//   8. authorityInfoAccess (OCSP), with ocsp_url only.
// Nothing else the request asks for is used (evaluate_profile() lists what is dropped).
// Verifies the request's signature first.
Result<Certificate> issue_certificate(const IssueSpec& spec);

// True when the request asks for basicConstraints CA:TRUE (or carries one that cannot be
// decoded). ca/ refuses such requests at submission unless it issues sub-CAs; the
// certificate issued follows the IssueSpec, not this.
bool requests_ca_certificate(const Csr& csr);

// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
std::string key_identifier(const Key& key);

}  // namespace scepter::pki
