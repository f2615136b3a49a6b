#pragma once
// The contract between the daemon's control socket and the command interpreter: one
// ShellSession per connected `scepter` shell (or per startup-config load). The session
// keeps the mode stack and any pending question ("[yes/no]", "Password:", a pasted
// PKCS#10), so the transport only moves lines and replies.
//
// Not thread-safe: one connection drives one session. Async output (debug traces) may be
// delivered from other threads through the sink set with set_async_output().

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace scepter::cli {

struct Reply {
  std::string output;   // text to print; every line ends with '\n'
  bool ok = true;       // false when the line failed (a '%' error was printed)
  bool closed = false;  // the session ended (`exit` from exec mode)
};

class ShellSession {
 public:
  virtual ~ShellSession() = default;
  // One line as typed: a command, or the answer to a pending question.
  virtual Reply execute(std::string_view line) = 0;
  // `line` is the text before a '?' keypress. Returns the help listing to print.
  virtual std::string help(std::string_view line) = 0;
  // Candidates for the last (partial) word of `line`, as full words.
  virtual std::vector<std::string> complete(std::string_view line) = 0;
  // The prompt for the next line: "ca1#", "ca1(config)#", "Password: ", "...[yes/no]: ".
  virtual std::string prompt() const = 0;
  // True when the next line is a secret (a password): the shell must not echo it.
  virtual bool input_hidden() const = 0;
  // Where asynchronous text (e.g. `debug crypto pki server` lines) goes. May be called
  // from any thread; the sink must be thread-safe.
  virtual void set_async_output(std::function<void(std::string_view)> sink) = 0;
};

}  // namespace scepter::cli
