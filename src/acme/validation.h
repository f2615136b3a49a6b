#pragma once
// Challenge validation (RFC 8555 8.3 http-01, 8.4 dns-01; RFC 8737 tls-alpn-01): the
// one place where the CA connects out, at an address an ACME client names. Blocking;
// the service runs it on threads of its own.
//
// Where it may connect: the addresses a DNS identifier resolves to (A and AAAA through
// the resolver), or an IP identifier itself. Special addresses (common/ip_prefix.h
// is_special_address: loopback, link-local, ...) are refused unless inside one of the
// operator's `acme allow connect` prefixes; so is a DNS answer naming only such
// addresses. Nothing follows redirects. Every step has a deadline.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "acme/problem.h"
#include "common/ip_prefix.h"

namespace scepter::acme {

enum class ChallengeType { kHttp01, kDns01, kTlsAlpn01 };
const char* challenge_type_name(ChallengeType t);  // "http-01", "dns-01", "tls-alpn-01"
std::optional<ChallengeType> challenge_type_by_name(std::string_view name);

struct ValidationSettings {
  // "ADDR" or "ADDR:PORT" ("[ADDR]:PORT" for IPv6); empty: the system's resolver.
  std::string resolver;
  int http_port = 80;
  int tls_port = 443;
  std::vector<IpPrefix> connect_allowed;
  // For one whole validation (resolution, connection, exchange).
  std::chrono::milliseconds timeout{10000};
};

// nullopt when the challenge is met. Otherwise a problem: "dns" (no such name, no
// records, resolver failure), "connection" (refused, timed out, address not allowed:
// the detail says which), "incorrectResponse" (wrong body, wrong TXT, wrong certificate),
// "tls" (handshake failed), "unauthorized", with the identifier named in the detail.
// `key_authorization` is token "." thumbprint.
std::optional<Problem> validate(ChallengeType type, const Identifier& identifier,
                                const std::string& token, const std::string& key_authorization,
                                const ValidationSettings& settings);

}  // namespace scepter::acme
