#pragma once
// A file that a command writes where the operator says (copy, crypto pki export ...
// pkcs12): the destination resolved locally, its name asked as IOS asks it
// ("Destination filename [NAME]? "), and a file that exists overwritten only once
// confirmed.

#include <functional>
#include <string>
#include <string_view>

#include "cli/context.h"

namespace scepter::cli {

struct DestinationFile {
  std::string path;  // where it is written
  std::string url;   // as the operator names it: "flash:mycs.ser"
};

// Why `file` may not be written ("" when it may), checked before the overwrite question.
using DestinationCheck = std::function<std::string(Context&, const DestinationFile&)>;
using DestinationWrite = std::function<CmdResult(Context&, const DestinationFile&)>;

// `url` is nvram:[NAME], flash:[NAME] or a local path; a file system or a directory takes
// `default_name`. Asks for the name (interactive sessions), then `check` (may be empty),
// the overwrite question, and `write`.
CmdResult ask_destination(Context& ctx, std::string_view url, const std::string& default_name,
                          DestinationCheck check, DestinationWrite write);

}  // namespace scepter::cli
