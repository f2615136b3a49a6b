#pragma once
// Which names ACME may certify: the syntax of identifiers (RFC 8555 7.1.3, 9.7.7; RFC
// 8738 for IP addresses), the operator's allow-lists (`acme allow dns`, `acme allow
// ip`), and whether a finalize's CSR asks for exactly its order's names.

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "acme/problem.h"
#include "ca/server_config.h"
#include "pki/certificate.h"
#include "pki/csr.h"

namespace scepter::acme {

// Why `name` is not a DNS host name (RFC 1123 2.1: labels of 1 to 63 letters, digits and
// hyphens, not starting or ending with a hyphen; at least one label, at most 253
// characters; no trailing dot), or nullopt when it is one. The reason reads after "…:".
std::optional<std::string> dns_name_error(std::string_view name);

// Most identifiers in one order.
inline constexpr std::size_t kMaxOrderIdentifiers = 100;

// An identifier of a newOrder, checked and in its canonical form (DNS: lower case;
// IP: inet_ntop's text). A DNS wildcard keeps its "*." in `value`. Problems: malformed
// (not an identifier object), unsupportedIdentifier (another type), rejectedIdentifier
// (bad syntax, or outside the allow-lists; the detail says which).
std::optional<Problem> check_identifier(const nlohmann::json& in, const ca::AcmeConfig& config,
                                        Identifier& out);

// Whether the CSR asks for exactly `identifiers` (as check_identifier left them, repeats
// ignored): its subjectAltName holds exactly those DNS names and IP addresses and nothing
// else, and its subject is empty or one commonName that is one of them. badCSR with the
// difference in the detail.
std::optional<Problem> check_csr_names(const pki::Csr& csr,
                                       const std::vector<Identifier>& identifiers);

// The names a certificate certifies, as ACME identifiers would name them: "DNS:name"
// (lower case, a wildcard with its "*.") and "IP:address" (canonical), from its
// subjectAltName and its commonNames, sorted, without repeats. nullopt when it names
// anything else (another kind of alternative name, a subject attribute other than
// commonName, a commonName that is neither) or nothing: no ACME authorization covers it.
std::optional<std::vector<std::string>> certificate_identifiers(const pki::Certificate& cert);

// The same name for an authorization's identifier ("DNS:*.example.com" for a wildcard).
std::string identifier_name(const Identifier& identifier, bool wildcard);

}  // namespace scepter::acme
