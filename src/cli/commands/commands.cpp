#include "cli/commands/commands.h"

#include "cli/commands/cs_commands.h"
#include "cli/commands/more_commands.h"

namespace scepter::cli {

void register_all_commands(CommandTable& t) {
  register_system_commands(t);
  register_config_commands(t);
  register_clock_commands(t);
  register_file_commands(t);
  register_debug_commands(t);
  register_cs_server_commands(t);
  register_cs_protocol_commands(t);
  register_cs_acme_commands(t);
  register_cs_enable_commands(t);
  register_cs_exec_commands(t);
  register_cs_show_commands(t);
  register_pki_import_commands(t);
  register_key_commands(t);
  register_trustpoint_commands(t);
  register_enroll_commands(t);
  register_cert_chain_commands(t);
  register_http_commands(t);
  register_token_commands(t);
  register_audit_commands(t);
  register_account_commands(t);
}

}  // namespace scepter::cli
