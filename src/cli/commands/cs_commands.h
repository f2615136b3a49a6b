#pragma once
// Certificate server commands: configuration (cs_server_commands.cpp), exec actions and
// show commands (cs_exec_commands.cpp, cs_show_commands.cpp).

#include <string_view>

#include "cli/command_table.h"

namespace scepter::cli {

// Help lines shared by the certificate server commands.
namespace cs_help {
inline constexpr std::string_view kCrypto = "Encryption module";
inline constexpr std::string_view kPki = "Public Key components";
inline constexpr std::string_view kServer = "IOS Certificate server";
inline constexpr std::string_view kLabel = "Name of the certificate server";
}  // namespace cs_help

void register_cs_server_commands(CommandTable& t);
void register_cs_exec_commands(CommandTable& t);
void register_cs_show_commands(CommandTable& t);
// crypto pki import LABEL pkcs12 (restoring a server from its archive).
void register_pki_import_commands(CommandTable& t);

}  // namespace scepter::cli
