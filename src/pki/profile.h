#pragma once
// The certificate profile: which extensions an issued certificate carries. They come
// from the profile and the CA's settings, never verbatim from the request. The request
// contributes only its subjectAltName entries of the kinds below and the extended key
// usages of an allow-list it asks for; everything else it asks for is dropped.
//
// evaluate_profile() tells, without signing anything, what a request would get and what
// of its request is dropped, so that the CA can show it to the operator before granting
// and in its debug trace. issue_certificate() (issuer.h) applies the same rules.
//
// All functions are pure and thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pki/csr.h"

namespace scepter::pki {

// The extended key usages a certificate may carry. A request's own EKUs are kept only
// when they are among kServerAuth..kEmailProtection; the SSH ones can only be added by
// the operator (Profile::extra_ekus).
enum class Eku {
  kServerAuth,       // 1.3.6.1.5.5.7.3.1
  kClientAuth,       // 1.3.6.1.5.5.7.3.2
  kIpsecIke,         // 1.3.6.1.5.5.7.3.17
  kIpsecEndSystem,   // 1.3.6.1.5.5.7.3.5
  kIpsecTunnel,      // 1.3.6.1.5.5.7.3.6
  kIpsecUser,        // 1.3.6.1.5.5.7.3.7
  kEmailProtection,  // 1.3.6.1.5.5.7.3.4
  kSshClient,        // 1.3.6.1.5.5.7.3.21
  kSshServer,        // 1.3.6.1.5.5.7.3.22
};

// "serverAuth", "clientAuth", "ipsecIKE", "ipsecEndSystem", "ipsecTunnel", "ipsecUser",
// "emailProtection", "sshClient", "sshServer" (OpenSSL's short names but for SSH).
std::string_view eku_name(Eku eku);
// Accepts the IOS `eku` keywords ("server-auth", "client-auth", "ipsec-end-system",
// "ipsec-tunnel", "ipsec-user", "email-protection", "ssh-client", "ssh-server", and
// "ipsec-ike") and the names eku_name() returns, case-insensitively. Fails with
// kInvalidArgument on any other name (code-signing, ocsp-signing, time-stamping... are
// never issued).
Result<Eku> parse_eku(std::string_view name);

// A subordinate CA the operator grants.
struct CaProfile {
  // basicConstraints pathLenConstraint; absent: no limit. Must not be negative.
  std::optional<int> path_len = std::nullopt;
};

struct Profile {
  // Set: a CA certificate (see below). Unset: an end-entity certificate.
  std::optional<CaProfile> ca = std::nullopt;
  // Added to every end-entity certificate, whether the request asks for them or not
  // (IOS `eku`). Ignored for a CA certificate. Duplicates are harmless.
  std::vector<Eku> extra_ekus = {};
};

// What a request gets under a profile, in the words of `openssl x509 -text` where it
// has some. Every list is in certificate order.
struct ProfileReport {
  std::string basic_constraints;  // "CA:FALSE", "CA:TRUE", "CA:TRUE, pathlen:0"
  std::string key_usage;          // "digitalSignature, keyEncipherment"
  std::vector<std::string> ekus;  // "serverAuth", "clientAuth"
  // "DNS:r1.example.com", "IP:192.0.2.1", "IP:2001:db8::1", "email:a@example.com",
  // "URI:https://example.com/"
  std::vector<std::string> sans;
  // One line per thing asked for and not granted, in request order:
  // "basicConstraints CA:TRUE (replaced by the profile)",
  // "keyUsage keyCertSign, cRLSign (replaced by the profile)", "extendedKeyUsage
  // codeSigning", "subjectAltName otherName", "cRLDistributionPoints", "1.2.3.4".
  std::vector<std::string> dropped;
  // True when the subject is empty: the subjectAltName is then critical (RFC 5280
  // 4.2.1.6), and issuing fails if no entry is kept.
  bool san_critical = false;
};

// The profile's rules, applied to `csr`:
//  - basicConstraints, critical: CA:FALSE; with profile.ca, CA:TRUE with its pathLen.
//  - keyUsage, critical: RSA digitalSignature+keyEncipherment; EC digitalSignature+
//    keyAgreement; a CA digitalSignature+keyCertSign+cRLSign. An end entity that asks
//    for some of its usages (a usage-keys signature or encryption key) gets those only.
//  - extendedKeyUsage, non-critical, end-entity only: the request's EKUs that are in the
//    allow-list (see Eku), plus profile.extra_ekus, in Eku order; absent when empty.
//  - subjectAltName: the request's DNS, IP (4 or 16 bytes), rfc822Name and URI entries,
//    in request order; DNS, email and URI values must be printable ASCII. Other kinds
//    are dropped. Absent when no entry is kept.
// Nothing else from the request is used. Requests are bounded by Csr::parse(), so this
// is linear in the request's size.
ProfileReport evaluate_profile(const Csr& csr, const Profile& profile);

// For issue_certificate(): the extensions above, in the order basicConstraints,
// keyUsage, extendedKeyUsage, subjectAltName (the last two when present). Fails with
// kInvalidArgument for a negative pathLen or for an empty subject without a kept
// subjectAltName entry; kInternal on OpenSSL failures.
Result<std::vector<Ptr<X509_EXTENSION>>> profile_extensions(const Csr& csr, const Profile& profile);

// The building blocks, for certificates made without a request (issuer.h):
// basicConstraints, critical (CA:FALSE leaves the cA field out, as DER wants; path_len
// only with CA:TRUE), and keyUsage, critical, with the given bits (RFC 5280 4.2.1.3).
Result<Ptr<X509_EXTENSION>> basic_constraints_ext(bool ca, std::optional<int> path_len);
Result<Ptr<X509_EXTENSION>> key_usage_ext(const std::vector<int>& bits);

}  // namespace scepter::pki
