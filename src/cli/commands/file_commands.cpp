// dir nvram: / dir flash:.
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/context.h"

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

}  // namespace

void register_file_commands(CommandTable& t) {
  t.add(Node::kExec, "dir [<flash:|nvram:>$fs]",
        {"List files on a filesystem", "Directory or file name", "Directory or file name"}, dir);
}

}  // namespace scepter::cli
