#pragma once
// Identity facts the request policy needs about names and certificates: whether a
// renewal asks for exactly the identity of the certificate that signed it, and whether a
// name carries a role attribute (the seed's "cn=ioscs RA" / "ou=ioscs RA").
//
// Everything here is a pure function over parsed objects; safe from any thread.

#include <string>
#include <string_view>
#include <vector>

#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/ptr.h"

namespace scepter::pki {

// RFC 5280 name comparison (OpenSSL's canonical form: case and white space folded in
// string attributes, RDN order significant).
bool same_name(const X509_NAME* a, const X509_NAME* b);

// True when some RDN of `name` has an attribute of type `nid` (NID_commonName,
// NID_organizationalUnitName, ...) whose whole value equals `value`, ignoring ASCII case
// (caseIgnoreMatch). "cn=ioscs radius" does not carry "ioscs RA", and neither does a CN
// whose text merely contains ",ou=ioscs RA".
bool name_has_attribute(const X509_NAME* name, int nid, std::string_view value);

// The subjectAltName entries as canonical strings, sorted and without duplicates:
// "DNS:host", "IP:192.0.2.1" / "IP:2001:db8::1", "email:a@b", "URI:...", and for any
// other kind "other:<type number>:<hex of its DER>". An absent extension is an empty
// list; an undecodable one yields {"invalid"} (never equal to a real list).
std::vector<std::string> alt_names(const Certificate& cert);
// The same for a subjectAltName extension.
std::vector<std::string> alt_names_of(const X509_EXTENSION* ext);
std::vector<std::string> requested_alt_names(const Csr& csr);

// The request asks for exactly the subject and alternative names of `cert`.
bool same_identity(const Csr& csr, const Certificate& cert);

}  // namespace scepter::pki
