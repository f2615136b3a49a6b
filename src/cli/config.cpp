#include "cli/config.h"

#include <fmt/format.h>

#include "cli/session.h"
#include "cli/type7.h"
#include "common/fs.h"

namespace scepter::cli {

void ConfigText::line(std::string_view text) {
  text_.append(text);
  text_.push_back('\n');
  last_was_bang_ = false;
}

void ConfigText::child(std::string_view text) {
  text_.push_back(' ');
  line(text);
}

void ConfigText::bang() {
  if (last_was_bang_) return;
  text_.append("!\n");
  last_was_bang_ = true;
}

std::string running_config(const CommandTable& table, ca::Device& device) {
  ConfigText text;
  for (const ConfigWriter* w : table.config_writers()) {
    (*w)(device, text);
    text.bang();
  }
  return "!\n" + text.text() + "end\n";
}

std::string frame_running_config(std::string_view body) {
  return fmt::format("Building configuration...\n\nCurrent configuration : {} bytes\n{}",
                     body.size(), body);
}

Status save_config(std::string_view body, const std::string& path) {
  // The configuration holds passwords (type 7 only hides them): owner only.
  return fs::write_atomic(path, body, 0600);
}

LoadResult load_config(const CommandTable& table, ca::Device& device, std::string_view text) {
  LoadResult result;
  Session session(table, device, SessionOptions{.interactive = false, .start_in_config = true});
  int number = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    Reply r = session.execute(line);
    if (!r.ok) {
      ++result.errors;
      // This goes to the daemon's log: the line's secrets stay out of it.
      result.output += fmt::format("line {}: {}\n", number, mask_passwords(line));
    }
    result.output += r.output;
    if (r.closed) break;
  }
  return result;
}

}  // namespace scepter::cli
