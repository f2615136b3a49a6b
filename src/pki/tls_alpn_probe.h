#pragma once
// The TLS side of ACME's tls-alpn-01 challenge (RFC 8737; RFC 8738 for IP identifiers):
// a client handshake that asks for the "acme-tls/1" protocol and returns the certificate
// the server presented, and the check of that certificate. The chain is never verified:
// the validation certificate is self-signed (RFC 8737 3).
//
// Pure functions over their arguments; safe from any thread.

#include <chrono>
#include <string>
#include <string_view>

#include "common/ip_prefix.h"
#include "common/status.h"

namespace scepter::pki {

// RFC 8737's ALPN protocol name.
inline constexpr std::string_view kAcmeTlsAlpnProtocol = "acme-tls/1";

// The SNI for an identifier (RFC 8737 3, RFC 8738 6): a DNS name as it is; an IP address
// as its reverse-DNS name ("1.2.0.192.in-addr.arpa", or the nibbles of an IPv6 address
// under "ip6.arpa").
std::string tls_alpn_server_name(const IpAddress& address);

// Runs a TLS 1.2/1.3 client handshake over `fd` (a connected stream socket the caller
// keeps owning; it is switched to non-blocking) with SNI `server_name` and ALPN exactly
// "acme-tls/1", waiting until `deadline` at most, and returns the DER of the leaf
// certificate the server sent. The connection is not used further and no close_notify
// is sent. Fails with kUnavailable when the deadline passes or the peer closes before
// the handshake ends; with kInvalidArgument when the handshake fails otherwise (no TLS,
// an alert) or the server does not select "acme-tls/1". Writes to a socket the peer may
// have closed: the process must ignore SIGPIPE (scepterd does).
Result<std::string> fetch_tls_alpn_certificate(int fd, const std::string& server_name,
                                               std::chrono::steady_clock::time_point deadline);

// What a tls-alpn-01 certificate must carry for identifier `name` (a DNS name, compared
// without regard to ASCII case) or `address` (an IP identifier, when `is_ip`): exactly one
// subjectAltName extension with exactly one entry, that dNSName or iPAddress; and one
// critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31) whose value is a DER OCTET
// STRING holding SHA-256(key_authorization). Fails with kInvalidArgument, saying what is
// wrong, when any of that is not so or the DER is not a certificate.
Status check_tls_alpn_certificate(std::string_view der, std::string_view name, bool is_ip,
                                  std::string_view key_authorization);

}  // namespace scepter::pki
