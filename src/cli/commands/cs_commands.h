#pragma once
// Certificate server commands: configuration (cs_server_commands.cpp), exec actions and
// show commands (cs_exec_commands.cpp, cs_show_commands.cpp).

#include "cli/command_table.h"

namespace scepter::cli {

void register_cs_server_commands(CommandTable& t);
void register_cs_exec_commands(CommandTable& t);
void register_cs_show_commands(CommandTable& t);
// crypto pki import LABEL pkcs12 (restoring a server from its archive).
void register_pki_import_commands(CommandTable& t);

}  // namespace scepter::cli
