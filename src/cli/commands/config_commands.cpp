// The configuration files: show running-config / startup-config, write, copy.
#include <string>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/config.h"
#include "cli/context.h"
#include "common/fs.h"
#include "common/parse.h"

namespace scepter::cli {
namespace {

constexpr std::string_view kStartupConfig = "startup-config";

CmdResult show_running_config(Context& ctx, const Args&) {
  ctx.print(frame_running_config(running_config(ctx.table(), ctx.device())));
  return {};
}

CmdResult show_startup_config(Context& ctx, const Args&) {
  std::string path = ctx.device().startup_config_path();
  if (!fs::exists(path)) {
    ctx.print("startup-config is not present\n");
    return {};
  }
  auto text = fs::read_file(path);
  if (!text.has_value()) {
    ctx.printf("%Error opening nvram:/startup-config ({})\n", text.error().message());
    return CmdResult::printed_failure();
  }
  ctx.print(*text);
  if (!text->empty() && text->back() != '\n') ctx.print("\n");
  return {};
}

CmdResult save_to(Context& ctx, const std::string& path) {
  ctx.print("Building configuration...\n");
  Status s = save_config(running_config(ctx.table(), ctx.device()), path);
  if (!s.ok()) return ctx.error("Error writing nvram: " + s.message());
  ctx.print("[OK]\n");
  return {};
}

CmdResult write_config(Context& ctx, const Args& a) {
  if (a.has("terminal")) return show_running_config(ctx, a);
  return save_to(ctx, ctx.device().startup_config_path());
}

// The name typed at "Destination filename [startup-config]? ": a file in nvram.
CmdResult copy_to_named(Context& ctx, std::string_view answer) {
  answer = trim_space(answer);
  if (answer.starts_with("nvram:")) answer.remove_prefix(6);
  if (answer.empty() || answer == kStartupConfig) {
    return save_to(ctx, ctx.device().startup_config_path());
  }
  // One plain file name: nvram has no subdirectories.
  if (answer.find('/') != std::string_view::npos || answer == "." || answer == "..") {
    return ctx.error("Invalid destination filename");
  }
  auto path = ctx.device().resolve_local_url("nvram:" + std::string(answer));
  if (!path.has_value()) return path.error();
  return save_to(ctx, *path);
}

CmdResult copy_running_startup(Context& ctx, const Args&) {
  if (!ctx.interactive()) return copy_to_named(ctx, "");
  ctx.ask(Question{"Destination filename [startup-config]? ", false, copy_to_named});
  return {};
}

}  // namespace

void register_config_commands(CommandTable& t) {
  t.add(Node::kExec, "show running-config",
        {"Show running system information", "Current operating configuration"},
        show_running_config);
  t.add(Node::kExec, "show startup-config",
        {"Show running system information", "Contents of startup configuration"},
        show_startup_config);
  t.add(Node::kExec, "write [<memory|terminal>]",
        {"Write running configuration to memory, network, or terminal", "Write to NV memory",
         "Write to terminal"},
        write_config);
  t.add(Node::kExec, "copy running-config startup-config",
        {"Copy from one file to another", "Copy from current system configuration",
         "Copy to startup configuration"},
        copy_running_startup);
}

}  // namespace scepter::cli
