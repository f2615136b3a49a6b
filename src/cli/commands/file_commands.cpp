// dir nvram: / dir flash:, and copy SOURCE DESTINATION between them and local paths (a
// live database is copied as one consistent snapshot).
#include <sys/statvfs.h>

#include <chrono>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/commands/destination.h"
#include "cli/context.h"
#include "common/fs.h"
#include "store/sqlite/backup.h"

namespace scepter::cli {
namespace {

struct FileRow {
  std::string name;
  std::uintmax_t size = 0;
};

CmdResult dir(Context& ctx, const Args& a) {
  std::string fs_name = a.has("fs") ? std::string(a.choice("fs")) : "flash:";
  const std::string& dir =
      fs_name == "nvram:" ? ctx.device().nvram_dir() : ctx.device().flash_dir();
  std::error_code ec;
  std::vector<FileRow> rows;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto size = it->file_size(ec);
    if (ec) continue;
    rows.push_back(FileRow{it->path().filename().string(), size});
  }
  if (ec) {
    // IOS prints this one without the usual space after '%'.
    ctx.printf("%Error opening {}/ ({})\n", fs_name, ec.message());
    return CmdResult::printed_failure();
  }
  std::sort(rows.begin(), rows.end(),
            [](const FileRow& x, const FileRow& y) { return x.name < y.name; });
  ctx.printf("Directory of {}/\n\n", fs_name);
  if (rows.empty()) ctx.print("No files in directory\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ctx.printf("{:>5}  -rw-  {:>10}  {:>27}  {}\n", i + 1, rows[i].size, "<no date>", rows[i].name);
  }
  struct statvfs vfs {};
  std::uintmax_t total = 0;
  std::uintmax_t free = 0;
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    total = static_cast<std::uintmax_t>(vfs.f_blocks) * vfs.f_frsize;
    free = static_cast<std::uintmax_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  ctx.printf("\n{} bytes total ({} bytes free)\n", total, free);
  return {};
}

// The certificate server whose database is `path` and which may be writing to it (not
// shut down), or null.
std::shared_ptr<ca::CertificateServer> live_database_owner(ca::Device& device,
                                                           const std::string& path) {
  std::error_code ec;
  for (const auto& server : device.servers()) {
    if (server->state() == ca::ServerState::kDisabled) continue;
    auto db = server->database_path();
    if (db.has_value() && std::filesystem::equivalent(*db, path, ec)) return server;
  }
  return nullptr;
}

// Why `dst` may not be written with `src` ("" when it may): the same file, or the database
// of a server that may be writing to it.
std::string refusal(ca::Device& device, const std::string& src, const std::string& dst,
                    std::string_view dst_url) {
  std::error_code ec;
  if (std::filesystem::exists(dst, ec) && std::filesystem::equivalent(src, dst, ec)) {
    return "The source and the destination are the same file.";
  }
  if (auto owner = live_database_owner(device, dst)) {
    return fmt::format(
        "{0} is the database of certificate server {1}, which is not shut down: enter "
        "\"shutdown\" under crypto pki server {1} before replacing it.",
        dst_url, owner->label());
  }
  return {};
}

CmdResult do_copy(Context& ctx, const std::string& src, const std::string& dst,
                  std::string_view dst_url) {
  // Again after the question: the server may have been enabled meanwhile.
  if (std::string why = refusal(ctx.device(), src, dst, dst_url); !why.empty()) {
    return ctx.error(why);
  }
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t bytes = 0;
  if (store::sqlite::is_database_file(src)) {
    // A database (perhaps in use): one consistent snapshot, with what its journal holds.
    auto copied = store::sqlite::backup_database(src, dst);
    if (!copied.has_value()) {
      ctx.printf("%Error copying {} ({})\n", dst_url, copied.error().message());
      return CmdResult::printed_failure();
    }
    bytes = *copied;
  } else {
    auto data = fs::read_file(src);
    if (!data.has_value()) {
      ctx.printf("%Error reading {} ({})\n", src, data.error().message());
      return CmdResult::printed_failure();
    }
    if (Status s = fs::write_atomic(dst, *data, 0600); !s.ok()) {
      ctx.printf("%Error copying {} ({})\n", dst_url, s.message());
      return CmdResult::printed_failure();
    }
    bytes = data->size();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto rate = static_cast<std::uint64_t>(static_cast<double>(bytes) / std::max(secs, 0.001));
  ctx.printf("\n{} bytes copied in {:.3f} secs ({} bytes/sec)\n", bytes, secs, rate);
  return {};
}

CmdResult copy(Context& ctx, const Args& a) {
  const std::string src_url(a.word("src"));
  auto src = ctx.device().resolve_local_url(src_url);
  if (!src.has_value()) return ctx.error(src.error().message());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*src, ec)) {
    ctx.printf("%Error opening {} (No such file or directory)\n", src_url);
    return CmdResult::printed_failure();
  }
  return ask_destination(
      ctx, a.word("dst"), std::filesystem::path(*src).filename().string(),
      [src = *src](Context& c, const DestinationFile& dst) {
        return refusal(c.device(), src, dst.path, dst.url);
      },
      [src = *src](Context& c, const DestinationFile& dst) {
        return do_copy(c, src, dst.path, dst.url);
      });
}

}  // namespace

void register_file_commands(CommandTable& t) {
  t.add(Node::kExec, "dir [<flash:|nvram:>$fs]",
        {"List files on a filesystem", "Directory or file name", "Directory or file name"}, dir);
  t.add(Node::kExec, "copy WORD$src WORD$dst",
        {"Copy from one file to another", "Source: nvram:NAME, flash:NAME or a local path",
         "Destination: nvram:[NAME], flash:[NAME] or a local path"},
        copy);
}

}  // namespace scepter::cli
