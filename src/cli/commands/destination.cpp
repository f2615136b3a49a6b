#include "cli/commands/destination.h"

#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/questions.h"
#include "common/fs.h"
#include "common/parse.h"
#include "files/remote.h"

namespace scepter::cli {
namespace {

struct Target {
  std::string dir;
  std::string name;    // proposed
  std::string prefix;  // the url without the name
  DestinationCheck check;
  DestinationWrite write;
};

// The name typed at "Destination filename [NAME]? ": empty for NAME, else a file name in
// the destination's directory.
CmdResult named(Context& ctx, const std::shared_ptr<const Target>& t, std::string_view answer) {
  answer = trim_space(answer);
  const std::string name = answer.empty() ? t->name : std::string(answer);
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return ctx.error("Invalid destination filename");
  }
  const DestinationFile file{t->dir.empty() ? "" : t->dir + "/" + name, t->prefix + name};
  if (t->check) {
    if (std::string why = t->check(ctx, file); !why.empty()) return ctx.error(why);
  }
  std::error_code ec;
  if (ctx.interactive() && !file.remote() && std::filesystem::exists(file.path, ec)) {
    ctx.print("%Warning:There is a file already existing with this name\n");
    return confirm_or(ctx, "Do you want to over write?", true,
                      [t, file](Context& c) { return t->write(c, file); });
  }
  return t->write(ctx, file);
}

// The question, then named().
CmdResult ask(Context& ctx, const std::shared_ptr<Target>& t) {
  if (!ctx.interactive()) return named(ctx, t, "");
  ctx.ask(Question{fmt::format("Destination filename [{}]? ", t->name), false,
                   [t](Context& c, std::string_view answer) { return named(c, t, answer); }});
  return {};
}

}  // namespace

CmdResult ask_destination(Context& ctx, std::string_view url, const std::string& default_name,
                          DestinationCheck check, DestinationWrite write) {
  auto t = std::make_shared<Target>();
  t->check = std::move(check);
  t->write = std::move(write);
  t->prefix = std::string(url);
  if (files::is_remote_url(url)) {
    if (Status s = files::validate_remote_url(url, /*allow_password=*/true); !s.ok()) {
      return ctx.error(s.message());
    }
    // tftp://host/dir/NAME, or tftp://host/dir/ for the default name.
    const std::size_t path_start = url.find('/', url.find("://") + 3);
    const std::size_t slash = url.rfind('/');
    if (path_start == std::string_view::npos) {
      t->prefix += '/';
      t->name = default_name;
    } else if (slash + 1 == url.size()) {
      t->name = default_name;
    } else {
      t->name = std::string(url.substr(slash + 1));
      t->prefix.resize(slash + 1);
    }
    return ask(ctx, t);
  }
  auto resolved = ctx.device().resolve_local_url(url);
  if (!resolved.has_value()) return ctx.error(resolved.error().message());
  const std::filesystem::path where(*resolved);
  std::error_code ec;
  if (std::filesystem::is_directory(where, ec)) {
    // "nvram:", "flash:" or a directory: the default name there.
    t->dir = where.string();
    t->name = default_name;
    if (!t->prefix.empty() && t->prefix.back() != ':' && t->prefix.back() != '/') t->prefix += '/';
  } else {
    t->dir = where.parent_path().string();
    t->name = where.filename().string();
    t->prefix.resize(t->prefix.size() - std::min(t->prefix.size(), t->name.size()));
    if (!std::filesystem::is_directory(t->dir, ec)) {
      ctx.printf("%Error opening {} (No such file or directory)\n", url);
      return CmdResult::printed_failure();
    }
  }
  return ask(ctx, t);
}

CmdResult ask_file_name(Context& ctx, std::string_view what, std::string_view url,
                        std::function<CmdResult(Context&, const std::string&)> then) {
  if (!ctx.interactive()) return then(ctx, std::string(url));
  // The name is what follows the last '/' (a URL or a path) or the file system's ':'.
  const std::size_t cut = url.find_last_of(files::is_remote_url(url) ? "/" : "/:");
  const std::string prefix(url.substr(0, cut == std::string_view::npos ? 0 : cut + 1));
  const std::string name(url.substr(prefix.size()));
  ctx.ask(Question{fmt::format("{} [{}]? ", what, name), false,
                   [prefix, name, then = std::move(then)](Context& c, std::string_view answer) {
                     answer = trim_space(answer);
                     if (answer.empty()) return then(c, prefix + name);
                     if (answer.find('/') != std::string_view::npos || answer == "." ||
                         answer == "..") {
                       return c.error("Invalid filename");
                     }
                     return then(c, prefix + std::string(answer));
                   }});
  return {};
}

Status write_destination(Context& ctx, const DestinationFile& file, std::string_view data,
                         int mode) {
  if (file.remote()) return ctx.device().remote_files().write(file.url, {}, data);
  return fs::write_atomic(file.path, data, mode);
}

}  // namespace scepter::cli
