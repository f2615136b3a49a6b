#pragma once
// An ACME problem document (RFC 8555 6.7, RFC 7807): what every error answer of the ACME
// service carries, with the type's last part ("malformed", "badNonce", ...).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scepter::acme {

struct Identifier {
  std::string type;   // "dns" or "ip"
  std::string value;  // lower-case DNS name without a trailing dot; an IP address as
                      // inet_ntop writes it
  bool operator==(const Identifier&) const = default;
};

// One identifier's own problem inside a problem about several (RFC 8555 6.7.1).
struct Subproblem {
  Identifier identifier;
  std::string type;
  std::string detail;
};

struct Problem {
  // The type after "urn:ietf:params:acme:error:": "malformed", "unauthorized",
  // "badNonce", "badSignatureAlgorithm", "badPublicKey", "rejectedIdentifier",
  // "connection", "dns", "incorrectResponse", "tls", "unsupportedIdentifier",
  // "accountDoesNotExist", "externalAccountRequired", "orderNotReady", "badCSR",
  // "rateLimited", "serverInternal", "alreadyRevoked", "badRevocationReason",
  // "userActionRequired".
  std::string type = "malformed";
  std::string detail;
  int status = 400;
  std::vector<Subproblem> subproblems = {};
};

// "urn:ietf:params:acme:error:" + type.
std::string problem_type_urn(std::string_view type);

inline Problem problem(std::string type, std::string detail, int status = 400) {
  return Problem{std::move(type), std::move(detail), status};
}

}  // namespace scepter::acme
