// Modes and the system's name: configure terminal, end, exit, do, hostname, terminal.
#include <cctype>
#include <string>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/context.h"

namespace scepter::cli {
namespace {

constexpr std::size_t kMaxHostname = 63;

CmdResult configure_terminal(Context& ctx, const Args&) {
  ctx.print("Enter configuration commands, one per line.  End with CNTL/Z.\n");
  ctx.enter(Node::kConfig);
  return {};
}

CmdResult end_config(Context& ctx, const Args&) {
  ctx.end_config();
  return {};
}

CmdResult exit_mode(Context& ctx, const Args&) {
  ctx.exit_mode();
  return {};
}

CmdResult do_exec(Context& ctx, const Args& a) {
  return ctx.run_in(Node::kExec, a.line("command"), a.offset("command").value_or(0));
}

// RFC 1123 labels, as IOS checks them: letters, digits and hyphens, starting with a
// letter, ending with a letter or digit.
bool valid_hostname(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostname) return false;
  if (!std::isalpha(static_cast<unsigned char>(name.front()))) return false;
  if (name.back() == '-') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

CmdResult set_hostname(Context& ctx, const Args& a) {
  if (a.has("no")) {
    ctx.device().set_hostname("Router");
    return {};
  }
  std::string_view name = a.word("name");
  if (!valid_hostname(name)) return ctx.error("Hostname contains one or more illegal characters.");
  ctx.device().set_hostname(std::string(name));
  return {};
}

CmdResult ignore(Context&, const Args&) { return {}; }

void write_hostname(ca::Device& device, ConfigText& out) {
  out.line("hostname " + device.hostname());
}

std::string exit_help(Node node) {
  if (node == Node::kConfig) return "Exit from configure mode";
  return "Exit from " + std::string(node_info(node).name) + " configuration mode";
}

}  // namespace

void register_system_commands(CommandTable& t) {
  t.add(Node::kExec, "configure terminal",
        {"Enter configuration mode", "Configure from the terminal"}, configure_terminal);
  t.add(Node::kExec, "exit", {"Exit from the EXEC"}, exit_mode);
  t.add(Node::kExec, "terminal length (0-512)$lines",
        {"Set terminal line parameters", "Set number of lines on a screen",
         "Number of lines on screen (0 for no pausing)"},
        ignore);
  t.add(Node::kExec, "terminal width (0-512)$columns",
        {"Set terminal line parameters", "Set width of the display terminal",
         "Number of characters on a screen line"},
        ignore);

  for (const NodeInfo& n : all_nodes()) {
    if (!is_config_node(n.id)) continue;
    t.add(n.id, "end", {"Exit from configure mode"}, end_config);
    t.add(n.id, "exit", {exit_help(n.id)}, exit_mode);
    t.add(n.id, "do LINE$command", {"To run exec commands in config mode", "Exec Command"}, do_exec,
          CommandOptions{.line_node = Node::kExec});
  }

  t.add(Node::kConfig, "[no] hostname WORD$name",
        {kNoHelp, "Set system's network name", "This system's network name"}, set_hostname);
  t.add_config_writer(config_order::kHostname, write_hostname);
}

}  // namespace scepter::cli
