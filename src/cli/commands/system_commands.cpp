// Modes and the system's name: configure terminal, end, exit, do, hostname, ip domain
// name, terminal.
#include <cctype>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/context.h"

namespace scepter::cli {
namespace {

constexpr std::size_t kMaxHostname = 63;
constexpr std::size_t kMaxDomainLabel = 63;  // RFC 1035
constexpr std::size_t kMaxDomainName = 253;

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

// RFC 1123 names: labels of letters, digits and hyphens (not at either end of a label)
// separated by dots. They become part of key labels, which allow nothing else.
bool valid_domain_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDomainName) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxDomainLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// `ip domain name` and its older spelling `ip domain-name`; `no` may omit the name.
CmdResult set_domain_name(Context& ctx, const Args& a) {
  if (a.has("no")) {
    ctx.device().set_domain_name("");
    return {};
  }
  if (!a.has("value")) return ctx.error("Incomplete command.");
  std::string_view name = a.word("value");
  if (!valid_domain_name(name)) {
    return ctx.error(fmt::format(
        "Invalid domain name {}: use labels of letters, digits and hyphens (not at either end "
        "of a label) separated by dots, such as example.com.",
        name));
  }
  ctx.device().set_domain_name(std::string(name));
  return {};
}

// `no ip domain lookup` asks for what scepterd always does (it never resolves what is
// typed at the prompt), so it is accepted and not stored; turning lookup on is refused
// rather than ignored.
CmdResult domain_lookup(Context& ctx, const Args& a) {
  if (a.has("no")) return {};
  return ctx.error(
      "Name lookup is not supported: scepterd never resolves names typed at the prompt, as "
      "with \"no ip domain lookup\".");
}

CmdResult ignore(Context&, const Args&) { return {}; }

void write_hostname(ca::Device& device, ConfigText& out) {
  out.line("hostname " + device.hostname());
  // Modern IOS's spelling, whichever was typed.
  if (std::string domain = device.domain_name(); !domain.empty()) {
    out.line("ip domain name " + domain);
  }
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
  constexpr std::string_view kIp = "Global IP configuration subcommands";
  constexpr std::string_view kDomain = "IP DNS Resolver";
  constexpr std::string_view kDomainName = "Define the default domain name";
  constexpr std::string_view kLookup = "Enable IP Domain Name System hostname translation";
  t.add(Node::kConfig, "[no] ip domain name [WORD$value]",
        {kNoHelp, kIp, kDomain, kDomainName, "Default domain name"}, set_domain_name);
  t.add(Node::kConfig, "[no] ip domain-name [WORD$value]",
        {kNoHelp, kIp, kDomainName, "Default domain name"}, set_domain_name);
  t.add(Node::kConfig, "[no] ip domain lookup", {kNoHelp, kIp, kDomain, kLookup}, domain_lookup);
  t.add(Node::kConfig, "[no] ip domain-lookup", {kNoHelp, kIp, kLookup}, domain_lookup);
  t.add_config_writer(config_order::kHostname, write_hostname);
}

}  // namespace scepter::cli
