#pragma once
// Shared by the cs-server configuration commands (cs_server_commands.cpp) and their
// running-config writer (cs_server_config_writer.cpp). Internal to cli/commands.

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "cli/config_text.h"
#include "common/status.h"

namespace scepter::cli {

// The `eku` keywords, as IOS-XE spells them, with their help: exactly those pki::parse_eku
// takes. IOS-XE's code-signing, ocsp-signing and time-stamping are not among them (the CA
// issues no such certificates) and are refused at the '^' marker.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kEkuKeywords = {{
    {"client-auth", "Client Authentication"},
    {"email-protection", "Email Protection"},
    {"ipsec-end-system", "IPSEC End System"},
    {"ipsec-ike", "IPSEC IKE"},
    {"ipsec-tunnel", "IPSEC Tunnel"},
    {"ipsec-user", "IPSEC User"},
    {"server-auth", "Server Authentication"},
    {"ssh-client", "SSH Client"},
    {"ssh-server", "SSH Server"},
}};

// The `crypto pki server` sections of `show running-config`: one per server of `device`,
// in commands that parse back to its configuration.
void write_servers(ca::Device& device, ConfigText& out);

}  // namespace scepter::cli
