// dir nvram: / dir flash:, more URL, delete URL, and copy SOURCE DESTINATION between them, local
// paths and remote URLs (a live database is copied as one consistent snapshot).
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>

#include <algorithm>
#include <atomic>
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
#include "cli/questions.h"
#include "common/fs.h"
#include "files/remote.h"
#include "store/sqlite/backup.h"

namespace scepter::cli {
namespace {

struct FileRow {
  std::string name;
  std::uintmax_t size = 0;
};

CmdResult dir(Context& ctx, const Args& a) {
  // nvram:, flash:, a directory in them, a local directory, or one file.
  std::string fs_name = a.has("fs") ? std::string(a.word("fs")) : "flash:";
  // "dir nv" as a keyword would be read.
  for (std::string_view fs : {"nvram", "flash"}) {
    if (!fs_name.empty() && fs.starts_with(fs_name)) fs_name = std::string(fs) + ":";
  }
  if (files::is_remote_url(fs_name)) {
    return ctx.error("dir lists nvram:, flash: and local directories.");
  }
  auto resolved = ctx.device().resolve_local_url(fs_name);
  if (!resolved.has_value()) return ctx.error(resolved.error().message());
  std::string dir = *resolved;
  std::error_code ec;
  std::vector<FileRow> rows;
  const bool one_file = std::filesystem::is_regular_file(dir, ec);
  if (one_file) {
    rows.push_back(FileRow{std::filesystem::path(dir).filename().string(),
                           std::filesystem::file_size(dir, ec)});
    dir = std::filesystem::path(dir).parent_path().string();
  } else {
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      auto size = it->file_size(ec);
      if (ec) continue;
      rows.push_back(FileRow{it->path().filename().string(), size});
    }
  }
  if (ec) {
    // IOS prints this one without the usual space after '%'.
    ctx.printf("%Error opening {}{} ({})\n", fs_name, fs_name.ends_with('/') ? "" : "/",
               ec.message());
    return CmdResult::printed_failure();
  }
  if (!one_file && !fs_name.ends_with('/')) fs_name += '/';
  std::sort(rows.begin(), rows.end(),
            [](const FileRow& x, const FileRow& y) { return x.name < y.name; });
  ctx.printf("Directory of {}\n\n", fs_name);
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

// Why the file at `path` may not be changed ("" when it may): it is the database of a
// server that may be writing to it. `doing`: "replacing", "deleting".
std::string in_use(ca::Device& device, const std::string& path, std::string_view url,
                   std::string_view doing) {
  auto owner = live_database_owner(device, path);
  if (!owner) return {};
  return fmt::format(
      "{0} is the database of certificate server {1}, which is not shut down: enter "
      "\"shutdown\" under crypto pki server {1} before {2} it.",
      url, owner->label(), doing);
}

// IOS's "%Error <doing> URL (...)" for a local path that is not a regular file.
CmdResult not_a_file(Context& ctx, std::string_view doing, std::string_view url,
                     const std::string& path) {
  std::error_code ec;
  ctx.printf(
      "%Error {} {} ({})\n", doing, url,
      std::filesystem::is_directory(path, ec) ? "Is a directory" : "No such file or directory");
  return CmdResult::printed_failure();
}

// Why `dst` may not be written with the local file `src` (empty: a remote one), "" when it
// may: the same file, or the database
// of a server that may be writing to it.
std::string refusal(ca::Device& device, const std::string& src, const std::string& dst,
                    std::string_view dst_url) {
  std::error_code ec;
  if (!src.empty() && std::filesystem::exists(dst, ec) &&
      std::filesystem::equivalent(src, dst, ec)) {
    return "The source and the destination are the same file.";
  }
  return in_use(device, dst, dst_url, "replacing");
}

void print_copied(Context& ctx, std::uint64_t bytes, std::chrono::steady_clock::time_point start) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto rate = static_cast<std::uint64_t>(static_cast<double>(bytes) / std::max(secs, 0.001));
  ctx.printf("\n{} bytes copied in {:.3f} secs ({} bytes/sec)\n", bytes, secs, rate);
}

CmdResult copy_failed(Context& ctx, std::string_view url, const Status& s) {
  ctx.printf("%Error copying {} ({})\n", files::redact_url(url), s.message());
  return CmdResult::printed_failure();
}

// A local file to a local or remote destination.
CmdResult copy_local(Context& ctx, const std::string& src, const DestinationFile& dst) {
  // Again after the question: the server may have been enabled meanwhile.
  if (!dst.remote()) {
    if (std::string why = refusal(ctx.device(), src, dst.path, dst.url); !why.empty()) {
      return ctx.error(why);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t bytes = 0;
  if (store::sqlite::is_database_file(src)) {
    // A database (perhaps in use): one consistent snapshot, with what its journal holds.
    // A remote copy is made from a snapshot beside the database, removed afterwards.
    static std::atomic<unsigned> snapshots{0};
    const std::string to =
        dst.remote() ? fmt::format("{}.snapshot-{}", src, snapshots.fetch_add(1)) : dst.path;
    auto copied = store::sqlite::backup_database(src, to);
    if (copied.has_value() && dst.remote()) {
      copied = ctx.device().remote_files().upload(to, dst.url, {});
      (void)fs::remove_file(to);
    }
    if (!copied.has_value()) return copy_failed(ctx, dst.url, copied.error());
    bytes = *copied;
  } else if (dst.remote()) {
    auto sent = ctx.device().remote_files().upload(src, dst.url, {});
    if (!sent.has_value()) return copy_failed(ctx, dst.url, sent.error());
    bytes = *sent;
  } else {
    auto data = fs::read_file(src);
    if (!data.has_value()) {
      ctx.printf("%Error reading {} ({})\n", src, data.error().message());
      return CmdResult::printed_failure();
    }
    if (Status s = fs::write_atomic(dst.path, *data, 0600); !s.ok()) {
      return copy_failed(ctx, dst.url, s);
    }
    bytes = data->size();
  }
  print_copied(ctx, bytes, start);
  return {};
}

// A remote file to a local destination: downloaded beside it, then put in its place. A
// database replaces the old one together with its journal (-wal, -shm), which belongs to
// the old file and must not be applied to the new one.
CmdResult copy_remote(Context& ctx, const std::string& src_url, const DestinationFile& dst) {
  if (dst.remote()) {
    return ctx.error(
        "Copying from one remote URL to another is not supported; copy to flash: "
        "first.");
  }
  if (std::string why = refusal(ctx.device(), "", dst.path, dst.url); !why.empty()) {
    return ctx.error(why);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string tmp = dst.path + ".download";
  auto got = ctx.device().remote_files().download(src_url, {}, tmp);
  if (!got.has_value()) {
    ctx.printf("%Error opening {} ({})\n", files::redact_url(src_url), got.error().message());
    return CmdResult::printed_failure();
  }
  Status s = ok_status();
  if (store::sqlite::is_database_file(tmp)) {
    s = fs::remove_file(dst.path + "-wal");
    if (s.ok()) s = fs::remove_file(dst.path + "-shm");
  }
  if (s.ok() && std::rename(tmp.c_str(), dst.path.c_str()) != 0) {
    s = unavailable(std::strerror(errno));
  }
  if (s.ok()) s = fs::fsync_dir(std::filesystem::path(dst.path).parent_path().string());
  if (!s.ok()) {
    (void)fs::remove_file(tmp);
    return copy_failed(ctx, dst.url, s);
  }
  print_copied(ctx, *got, start);
  return {};
}

// The last segment of a URL's path: the name a copy proposes for its destination.
std::string last_name(std::string_view url) {
  const auto slash = url.rfind('/');
  std::string_view name = slash == std::string_view::npos ? url : url.substr(slash + 1);
  if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name.remove_prefix(colon + 1);
  }
  return std::string(name);
}

CmdResult copy(Context& ctx, const Args& a) {
  const std::string src_url(a.word("src"));
  if (files::is_remote_url(src_url)) {
    if (Status s = files::validate_remote_url(src_url, /*allow_password=*/true); !s.ok()) {
      return ctx.error(s.message());
    }
    std::string name = last_name(src_url);
    if (name.empty()) return ctx.error("No file name in " + files::redact_url(src_url));
    return ask_destination(
        ctx, a.word("dst"), name,
        [](Context& c, const DestinationFile& dst) {
          return dst.remote() ? std::string() : refusal(c.device(), "", dst.path, dst.url);
        },
        [src_url](Context& c, const DestinationFile& dst) { return copy_remote(c, src_url, dst); });
  }
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
        return dst.remote() ? std::string() : refusal(c.device(), src, dst.path, dst.url);
      },
      [src = *src](Context& c, const DestinationFile& dst) { return copy_local(c, src, dst); });
}

// delete [/force] URL: a local file, or one on a server that can delete (ftp, sftp,
// http DELETE). A database in use stays.
CmdResult delete_now(Context& ctx, const std::string& url) {
  if (files::is_remote_url(url)) {
    if (Status s = ctx.device().remote_files().remove(url, {}); !s.ok()) {
      ctx.printf("%Error deleting {} ({})\n", files::redact_url(url), s.message());
      return CmdResult::printed_failure();
    }
    return {};
  }
  auto path = ctx.device().resolve_local_url(url);
  if (!path.has_value()) return ctx.error(path.error().message());
  if (std::string why = in_use(ctx.device(), *path, url, "deleting"); !why.empty()) {
    return ctx.error(why);
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*path, ec)) return not_a_file(ctx, "deleting", url, *path);
  if (Status s = fs::remove_file(*path); !s.ok()) {
    ctx.printf("%Error deleting {} ({})\n", url, s.message());
    return CmdResult::printed_failure();
  }
  if (Status s = fs::fsync_dir(std::filesystem::path(*path).parent_path().string()); !s.ok()) {
    return ctx.error(s.message());
  }
  return {};
}

// more URL: a text file of nvram:, flash: or a local path, as it is (filters apply).
CmdResult more(Context& ctx, const Args& a) {
  constexpr std::uintmax_t kMaxBytes = std::uintmax_t{4} << 20;
  const std::string url(a.word("url"));
  if (files::is_remote_url(url)) {
    return ctx.error("more reads nvram:, flash: and local files; copy the file to flash: first.");
  }
  auto path = ctx.device().resolve_local_url(url);
  if (!path.has_value()) return ctx.error(path.error().message());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*path, ec)) return not_a_file(ctx, "opening", url, *path);
  if (std::filesystem::file_size(*path, ec) > kMaxBytes) {
    return ctx.error(fmt::format("{} is larger than {} MiB.", url, kMaxBytes >> 20));
  }
  auto text = fs::read_file(*path);
  if (!text.has_value()) {
    ctx.printf("%Error opening {} ({})\n", url, text.error().message());
    return CmdResult::printed_failure();
  }
  if (text->find('\0') != std::string::npos) {
    return ctx.error(url + " is not a text file.");
  }
  ctx.print(*text);
  if (!text->empty() && text->back() != '\n') ctx.print("\n");
  return {};
}

CmdResult delete_file(Context& ctx, const Args& a) {
  const std::string url(a.word("url"));
  if (files::is_remote_url(url)) {
    if (Status s = files::validate_remote_url(url, /*allow_password=*/true); !s.ok()) {
      return ctx.error(s.message());
    }
  }
  const bool force = a.has("force");
  return ask_file_name(ctx, "Delete filename", url, [force](Context& c, const std::string& file) {
    if (force) return delete_now(c, file);
    return ask_confirm(c, fmt::format("Delete {}? ", files::redact_url(file)),
                       [file](Context& cc) { return delete_now(cc, file); });
  });
}

}  // namespace

void register_file_commands(CommandTable& t) {
  t.add(Node::kExec, "more WORD$url",
        {"Display the contents of a file", "nvram:NAME, flash:NAME or a local path"}, more);
  t.add(Node::kExec, "delete [/force$force] WORD$url",
        {"Delete a file", "Delete without asking for confirmation",
         "nvram:NAME, flash:NAME, a local path or an ftp:, http(s): or sftp: URL"},
        delete_file);
  t.add(Node::kExec, "dir [WORD$fs]",
        {"List files on a filesystem", "flash:, nvram:, a directory or a file (default flash:)"},
        dir);
  t.add(Node::kExec, "enable",
        {"Turn on privileged commands (the shell is always privileged: nothing changes)"},
        [](Context&, const Args&) { return CmdResult(); });
  t.add(Node::kExec, "copy WORD$src WORD$dst",
        {"Copy from one file to another",
         "Source: nvram:NAME, flash:NAME, a local path or tftp:, ftp:, http(s):, sftp:, scp: URL",
         "Destination: nvram:[NAME], flash:[NAME], a local path or a remote URL"},
        copy);
}

}  // namespace scepter::cli
