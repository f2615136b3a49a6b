#pragma once
// Certificate server commands: configuration (cs_server_commands.cpp), enabling
// (cs_enable_commands.cpp), exec actions and show commands (cs_exec_commands.cpp,
// cs_show_commands.cpp).

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "ca/server_config.h"
#include "cli/command_table.h"
#include "common/status.h"
#include "pki/serial_number.h"

namespace scepter::ca {
class CertificateServer;
}

namespace scepter::cli {

// Help lines shared by the certificate server commands.
namespace cs_help {
inline constexpr std::string_view kCrypto = "Encryption module";
inline constexpr std::string_view kPki = "Public Key components";
inline constexpr std::string_view kServer = "IOS Certificate server";
inline constexpr std::string_view kLabel = "Name of the certificate server";
}  // namespace cs_help

class Context;
// The server of the cs-server mode the line runs in (null once it was removed).
std::shared_ptr<ca::CertificateServer> current_server(Context& ctx);

// Shared by the cs-server configuration commands (cs_server_commands.cpp,
// cs_protocol_commands.cpp).
// `no X` may omit the value; `X` alone is incomplete.
bool incomplete(const Args& a, std::string_view name);
// Applies `edit` to a copy of the current server's configuration and hands it to the
// server, which refuses changes to locked settings; a failure becomes the `%` message.
CmdResult edit_config(Context& ctx, const std::function<Status(ca::ServerConfig&)>& edit);
// `scep encryption-key` and `ocsp responder-key`: the label of a key of the server's own,
// into `field` (empty for the `no` form).
CmdResult set_key_label(Context& ctx, const Args& a, std::string ca::ServerConfig::*field);

void register_cs_server_commands(CommandTable& t);
// The protocols a CA speaks besides SCEP (cs-server mode): ocsp ..., est ...
void register_cs_protocol_commands(CommandTable& t);
// acme ... (cs-server mode): ca::AcmeConfig.
void register_cs_acme_commands(CommandTable& t);
// shutdown, no shutdown (cs-server mode).
void register_cs_enable_commands(CommandTable& t);
void register_cs_exec_commands(CommandTable& t);
void register_cs_show_commands(CommandTable& t);
// crypto pki import LABEL pkcs12 (restoring a server from its archive).
void register_pki_import_commands(CommandTable& t);

}  // namespace scepter::cli
