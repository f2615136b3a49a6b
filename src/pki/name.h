#pragma once
// Distinguished names in the three forms Scepter meets them:
//  - parse_dn: the text an operator types for `issuer-name` or `subject-name`
//    ("CN=mycs, O=Example, C=US"), in RFC 4514 order: the LAST RDN written is the FIRST
//    in the DER, so "CN=x, O=y, C=US" encodes as C, O, CN.
//  - format_dn_config: the canonical form `show running-config` prints, which parses
//    back to the same name.
//  - format_dn_ios: the display form of `show crypto pki server ... requests` and
//    `... certificates`: "serialNumber=67111345+hostname=R27.otus.ru,cn=R27,ou=VPN,c=RU".
//
// All functions are pure and thread-safe. X509_NAME arguments are borrowed.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::pki {

// Parses a DN string. RDNs are separated by ',' and the attributes of a multi-valued RDN
// by '+'. Spaces around labels, values and separators are ignored. A value may escape
// any character with '\' (e.g. "O=Example\, Inc"), give a byte as '\XX' in hex, or be
// written in double quotes. Labels are case-insensitive:
//   cn, ou, o, c, l, st, e (or email, emailAddress), serialNumber, dc, uid, title,
//   street, unstructuredName (or hostname), unstructuredAddress (or ipaddress),
//   or a dotted OID such as 2.5.4.3.
// Values are encoded as PrintableString when they fit and UTF8String otherwise, except
// where the attribute fixes the type (c and serialNumber: PrintableString; e and dc:
// IA5String) or prefers IA5String (unstructuredName, as IOS clients send it). Sizes are
// checked against X.520 bounds (c is exactly two letters, cn at most 64 characters).
// Fails with kInvalidArgument "<dn> is not a valid subject name" on anything else,
// including an empty string or an empty value. The caller owns the result.
Result<Ptr<X509_NAME>> parse_dn(std::string_view dn);
// The name CN=`cn`, whatever characters `cn` holds (nothing is parsed), encoded as
// parse_dn() would. Fails with kInvalidArgument when `cn` is empty or over 64 characters.
Result<Ptr<X509_NAME>> common_name(std::string_view cn);

// The canonical text of `name`: RFC 4514 order, upper-case short labels (CN, OU, O, C,
// L, ST, E, DC, UID; serialNumber, unstructuredName, unstructuredAddress, title, street
// spelled out; other attributes as dotted OIDs), RDNs joined by ", ", multi-valued RDNs
// by "+", special characters escaped with '\'. parse_dn(format_dn_config(n)) equals n
// under X509_NAME_cmp; for names made by parse_dn it is byte-identical. A value that is
// not text (rare, from foreign certificates) is printed as "#" + hex and does not parse.
std::string format_dn_config(const X509_NAME* name);

// IOS's display text of `name`: RDNs in reverse DER order joined by ',' (no space),
// multi-valued RDNs joined by '+', lower-case labels cn, ou, o, c, l, st, e, dc, uid,
// hostname (unstructuredName), ipaddress (unstructuredAddress) and serialNumber; other
// attributes by OpenSSL's short name or dotted OID. Values are printed as they are
// (UTF-8), with control characters as "\XX". Never fails: a value that is not text is
// printed as "#" + hex.
std::string format_dn_ios(const X509_NAME* name);

// One attribute of a name as format_dn_ios prints it: the IOS label ("cn", "hostname",
// "serialNumber", ...) and the display value.
struct IosAttribute {
  std::string label;
  std::string value;
};
// The RDNs of `name` in IOS's display order (reverse DER order), each with its attributes
// in stored order, labelled and valued as in format_dn_ios. Never fails.
std::vector<std::vector<IosAttribute>> ios_rdns(const X509_NAME* name);
// The lines of the multi-line display (`show crypto pki certificates`, `show crypto pki
// trustpoints`): one RDN per line, its attributes joined by '+' ("hostname=r1+ipaddress=
// 192.0.2.7", "cn=r1", "o=Example, Inc"). Values may contain ',' or '+', so the lines
// cannot be rebuilt by splitting format_dn_ios. Never fails.
std::vector<std::string> format_dn_ios_lines(const X509_NAME* name);

// True when the DER encoding of `name` occurs in `der` (e.g. as a certificate's issuer):
// a cheap pre-check that avoids parsing certificates that cannot be ours. An unencodable
// name counts as present, so callers go on to the full check.
bool der_contains_name(std::string_view der, const X509_NAME* name);

}  // namespace scepter::pki
