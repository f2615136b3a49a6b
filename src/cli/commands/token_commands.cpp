// crypto pki token NAME module PATH [slot N] [label LABEL] user-pin PIN (config), its
// running-config line, and `show crypto pki token [NAME]`.
//
// scepterd's command for a PKCS#11 token. IOS configures its USB tokens with
// `crypto pki token NAME user-pin PIN` and finds the hardware itself; on Linux the token
// is a module (the vendor's shared library) and a slot or label, so those are given on
// the same line. The PIN is shown as IOS type 7, like the other passwords of the
// running-config (see docs/decisions.md).
#include <charconv>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/key_commands_common.h"
#include "cli/commands/more_commands.h"
#include "cli/config_text.h"
#include "cli/context.h"
#include "cli/type7.h"

namespace scepter::cli {
namespace {

constexpr std::string_view kPkiHelp = "Public Key components";
constexpr std::string_view kTokenHelp = "Configure a PKCS#11 token (HSM, smart card, USB token)";

std::optional<std::uint64_t> parse_slot(std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

CmdResult configure_token(Context& ctx, const Args& a) {
  ca::TokenConfig config;
  config.name = strip_device_colon(a.word("name"));
  if (Status s = ca::TokenRegistry::check_name(config.name); !s.ok()) {
    return ctx.error(fmt::format("Invalid token name {}: {}.", config.name, s.message()));
  }
  config.module = std::string(a.word("module"));
  if (config.module.empty() || config.module.front() != '/') {
    return ctx.error("The PKCS#11 module is given by its absolute path (/usr/lib/...).");
  }
  if (a.has("slot")) {
    config.slot = parse_slot(a.word("slot"));
    if (!config.slot) return ctx.invalid_input(a, "slot");
  }
  if (a.has("label")) config.label = std::string(a.word("label"));
  auto pin = password_argument(a, "enc", "pin");
  if (!pin.has_value()) return ctx.error("The user PIN cannot be read: " + pin.error().message());
  if (pin->empty()) return ctx.error("The user PIN is empty.");
  config.pin = std::move(*pin);
  const std::string name = config.name;
  Status s = ctx.device().tokens().configure(std::move(config));
  if (s.ok()) {
    ctx.printf("% Token {} logged in.\n", name);
  } else {
    // Kept, as IOS keeps the line of a token not inserted: its keys wait for it.
    ctx.printf("% Token {} is configured but cannot be used: {}\n", name, s.message());
  }
  return {};
}

CmdResult remove_token(Context& ctx, const Args& a) {
  const std::string name = strip_device_colon(a.word("name"));
  for (const auto& server : ctx.device().servers()) {
    auto key = ctx.device().keys().get(server->label());
    if (key && key->device == name && server->state() == ca::ServerState::kEnabled) {
      return ctx.error(fmt::format(
          "The key of certificate server {} is on token {}; shut the server down first.",
          server->label(), name));
    }
  }
  Status s = ctx.device().tokens().remove(name);
  if (!s.ok()) return ctx.error(fmt::format("No token named {} is configured.", name));
  return {};
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

void print_token(Context& ctx, const ca::TokenState& state) {
  const ca::TokenConfig& c = state.config;
  ctx.printf("Token {}:\n", c.name);
  ctx.printf("  Module:          {}\n", c.module);
  if (c.slot) ctx.printf("  Slot configured: {}\n", *c.slot);
  if (!c.label.empty()) ctx.printf("  Label wanted:    {}\n", c.label);
  if (!state.token) {
    ctx.printf("  Status:          not logged in ({})\n", state.error);
    return;
  }
  auto info = state.token->info();
  if (!info.has_value()) {
    ctx.printf("  Status:          error ({})\n", info.error().message());
    return;
  }
  ctx.printf("  Status:          {}\n", info->logged_in ? "logged in" : "logged out");
  ctx.printf("  Label:           {}\n", info->label);
  ctx.printf("  Manufacturer:    {}\n", info->manufacturer);
  ctx.printf("  Model:           {}\n", info->model);
  ctx.printf("  Serial number:   {}\n", info->serial);
  ctx.printf("  Slot:            {} ({})\n", info->slot, info->slot_description);
  ctx.printf("  Removable:       {}\n", yes_no(info->removable));
  ctx.printf("  Read-only:       {}\n", yes_no(info->read_only));
  ctx.printf("  User PIN:        {}\n", info->pin_locked      ? "locked"
                                        : info->pin_final_try ? "final try"
                                        : info->pin_count_low ? "count low"
                                                              : "ok");
  auto labels = state.token->labels();
  if (!labels.has_value()) {
    ctx.printf("  Keys:            cannot be listed ({})\n", labels.error().message());
    return;
  }
  ctx.printf("  Keys:            {}\n",
             labels->empty() ? "none" : fmt::format("{}", labels->size()));
  for (const std::string& label : *labels) ctx.printf("    {}\n", label);
}

CmdResult show_token(Context& ctx, const Args& a) {
  if (a.has("name")) {
    const std::string name = strip_device_colon(a.word("name"));
    auto state = ctx.device().tokens().get(name);
    if (!state) return ctx.error(fmt::format("No token named {} is configured.", name));
    print_token(ctx, *state);
    return {};
  }
  for (const ca::TokenState& state : ctx.device().tokens().list()) print_token(ctx, state);
  return {};
}

void write_tokens(ca::Device& device, ConfigText& out) {
  const std::vector<ca::TokenState> tokens = device.tokens().list();
  if (tokens.empty()) return;
  for (const ca::TokenState& state : tokens) {
    const ca::TokenConfig& c = state.config;
    std::string line = fmt::format("crypto pki token {} module {}", c.name, c.module);
    if (c.slot) line += fmt::format(" slot {}", *c.slot);
    if (!c.label.empty()) line += " label " + c.label;
    line += " user-pin 7 " + type7_encode(c.pin);
    out.line(line);
  }
  out.bang();
}

}  // namespace

void register_token_commands(CommandTable& t) {
  t.add(Node::kConfig,
        "crypto pki token WORD$name module WORD$module {slot WORD$slot|label WORD$label} "
        "user-pin [<0|7>$enc] WORD$pin",
        {kCryptoHelp, kPkiHelp, kTokenHelp, "Token name (as in on NAME:)", "The PKCS#11 module",
         "Path of the module's shared library", "Choose the token by slot", "Slot id",
         "Choose the token by its label", "Token label", "The user PIN", "The PIN follows in clear",
         "The PIN follows hidden (type 7)", "The user PIN"},
        configure_token);
  t.add(Node::kConfig, "no crypto pki token WORD$name",
        {kNoHelp, kCryptoHelp, kPkiHelp, kTokenHelp, "Token name"}, remove_token);
  t.add(Node::kExec, "show crypto pki token [WORD$name]",
        {"Show running system information", kCryptoHelp, kPkiHelp,
         "PKCS#11 tokens and the keys on them", "Token name"},
        show_token);
  t.add_config_writer(config_order::kTokens, write_tokens);
}

}  // namespace scepter::cli
