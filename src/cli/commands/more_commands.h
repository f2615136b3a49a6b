#pragma once
// Key pairs, trustpoints and the HTTP server: the device-level commands around the
// certificate server. Each function adds its commands (and config writer, if any) to the
// table once at start-up; a grammar mistake aborts there, as for every register_*.

#include <string>
#include <string_view>

#include "cli/command_table.h"
#include "pki/certificate.h"

namespace scepter::cli {

// Said where IOS would refuse to enable a certificate server without `ip http server`
// (scepterd enables it for manual enrollment): at `no shutdown`, and at `no ip http
// server` under an enabled server.
inline constexpr std::string_view kHttpOffNote =
    "% The HTTP server is off (\"ip http server\"): SCEP clients cannot reach the "
    "certificate server; requests are taken with \"crypto pki server LABEL request "
    "pkcs10\" only.\n";

// crypto key generate rsa|ec, crypto key zeroize, crypto key export|import (config mode),
// show crypto key mypubkey rsa|ec (exec). No config writer: keys live in the KeyStore
// (IOS keeps them in private-config, not in the running-config).
void register_key_commands(CommandTable& t);

// crypto pki trustpoint NAME and its ca-trustpoint subcommands (enrollment, subject-name,
// rsakeypair, hash, revocation-check), show crypto pki trustpoints, and the trustpoint
// config writer (config_order::kTrustpoints).
void register_trustpoint_commands(CommandTable& t);

// crypto pki authenticate NAME, crypto pki enroll NAME and no crypto pki enroll NAME
// (config mode): scepterd as a SCEP client of the trustpoint's CA.
void register_enroll_commands(CommandTable& t);
// crypto pki certificate chain NAME (config mode) and its config-cert-chain mode: the
// trustpoint's certificates, current and rollover.
void register_cert_chain_commands(CommandTable& t);
// A serial number's hex as IOS prints it: an even number of digits ("06", not "6").
inline std::string even_hex(std::string hex) { return hex.size() % 2 ? "0" + hex : hex; }
// `show crypto pki certificates`: the trustpoints' requests, own, RA and CA certificates
// and the certificate servers' CA certificates (all trustpoints, or only `name`).
class Context;
void render_trustpoint_certificates(Context& ctx, const std::string& name);
// "Certificate has the following attributes:" with the MD5 and SHA1 fingerprints: what
// the operator compares before accepting a CA (authenticate, a sub-CA's no shutdown).
void print_ca_fingerprints(Context& ctx, const pki::Certificate& cert);

// ip http server, ip http port, ip http bind-address, and their config writer
// (config_order::kHttp).
void register_http_commands(CommandTable& t);
// crypto pki token, show crypto pki token, and their config writer (config_order::kTokens).
void register_token_commands(CommandTable& t);
// username, aaa local authentication attempts max-fail, their config writer
// (config_order::kAccounts), clear aaa local user lockout, show aaa local user lockout.
void register_account_commands(CommandTable& t);
// show audit, verify audit (exec).
void register_audit_commands(CommandTable& t);

}  // namespace scepter::cli
