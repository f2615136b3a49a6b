#pragma once
// A file that a command writes where the operator says (copy, crypto pki export ...
// pkcs12): the destination resolved locally, its name asked as IOS asks it
// ("Destination filename [NAME]? "), and a local file that exists overwritten only once
// confirmed.

#include <functional>
#include <string>
#include <string_view>

#include "cli/context.h"

namespace scepter::cli {

struct DestinationFile {
  std::string path;  // where it is written; empty for a remote URL
  std::string url;   // as the operator names it: "flash:mycs.ser", "tftp://h/mycs.ser"
  bool remote() const { return path.empty(); }
};

// Why `file` may not be written ("" when it may), checked before the overwrite question.
using DestinationCheck = std::function<std::string(Context&, const DestinationFile&)>;
using DestinationWrite = std::function<CmdResult(Context&, const DestinationFile&)>;

// `url` is nvram:[NAME], flash:[NAME], a local path or a remote URL; a file system or a
// directory (a remote URL ending in '/') takes `default_name`. Asks for the name
// (interactive sessions), then `check` (may be empty), the overwrite question (local files:
// a remote server is not asked what it holds), and `write`.
CmdResult ask_destination(Context& ctx, std::string_view url, const std::string& default_name,
                          DestinationCheck check, DestinationWrite write);

// A file that a command reads or deletes where the operator names it (crypto pki import
// ... pkcs12 URL, delete URL): interactive sessions are asked "<what> [NAME]? " as IOS
// asks ("Source filename", "Delete filename"); Return keeps the URL, another name
// replaces its last part. `then` gets the URL.
CmdResult ask_file_name(Context& ctx, std::string_view what, std::string_view url,
                        std::function<CmdResult(Context&, const std::string&)> then);

// Writes `data` to `file`: a local file atomically with `mode`, a remote one uploaded.
Status write_destination(Context& ctx, const DestinationFile& file, std::string_view data,
                         int mode);

}  // namespace scepter::cli
