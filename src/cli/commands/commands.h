#pragma once
// Registration of every command, grouped by area: one register_* function per file in
// cli/commands/. The daemon calls register_all_commands() once at start-up; a grammar
// mistake aborts there (and in the unit tests).

#include "cli/command_table.h"

namespace scepter::cli {

void register_all_commands(CommandTable& t);

// configure terminal, end, exit, do, hostname, ip domain name, terminal length/width.
void register_system_commands(CommandTable& t);
// show running-config, show startup-config, write, copy running-config startup-config.
void register_config_commands(CommandTable& t);
// clock set, show clock.
void register_clock_commands(CommandTable& t);
// dir nvram: / flash:.
void register_file_commands(CommandTable& t);
// debug crypto pki server|transactions, undebug, show debugging.
void register_debug_commands(CommandTable& t);

}  // namespace scepter::cli
