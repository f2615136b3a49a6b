#pragma once
// What a command handler sees: the device, the session's mode and the names the modes
// were entered with, an output buffer, error helpers, and questions to the user.
//
//   CmdResult set_hostname(Context& ctx, const Args& a) {
//     if (!valid(a.word("name"))) return ctx.error("Hostname contains one or more illegal
//     characters."); ctx.device().set_hostname(std::string(a.word("name"))); return {};
//   }
//
// A Context lives for one line; handlers must not keep it. Continuations of questions get
// a fresh one. Handlers run with no device-wide lock held: another session's handler may
// run at the same time, so a handler changes shared state only through the Device's and
// its objects' own operations, each of which is atomic (ca/device.h says which), and
// must not assume that what it read a moment ago is still so.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/node.h"
#include "cli/result.h"

namespace scepter::ca {
class Device;
}

namespace scepter::cli {

class Context;
class CommandTable;
class Session;

// Receives the line the user typed in answer to a question.
using Continuation = std::function<CmdResult(Context&, std::string_view answer)>;

// A question whose answer is the next line the user types (see questions.h for the usual
// ones: yes/no, password, pasted text).
struct Question {
  std::string prompt;   // shown instead of the mode prompt: "Password: "
  bool hidden = false;  // a secret: the shell does not echo it
  Continuation on_answer;
};

class Context {
 public:
  Context(Session& session, std::string& out, Node node, std::size_t marker_base);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  ca::Device& device();
  const CommandTable& table() const;
  // False while a configuration file is loaded: nobody can answer questions, so handlers
  // take the answer "yes" or the values in the configuration (questions.h does this).
  bool interactive() const;

  // The mode the line runs in.
  Node node() const { return node_; }
  // The name the nearest enclosing `mode` was entered with ("" when none): the label in
  // cs-server mode, the trustpoint name in ca-trustpoint mode.
  std::string_view target(Node mode) const;
  std::string_view server_label() const { return target(Node::kCsServer); }
  std::string_view trustpoint_name() const { return target(Node::kCaTrustpoint); }

  // Output. Text should end with '\n'.
  void print(std::string_view text) { out_.append(text); }
  template <class... A>
  void printf(fmt::format_string<A...> f, A&&... a) {
    out_.append(fmt::format(f, std::forward<A>(a)...));
  }
  // Prints "% <message>\n" and returns a failed result.
  CmdResult error(std::string_view message);
  // Prints IOS's "% Invalid input detected at '^' marker." with the marker under the
  // word bound to `name` (for values the grammar cannot check, like 31 Feb).
  CmdResult invalid_input(const Args& args, std::string_view name);

  // Enters a submode whose parent is the current mode, remembering `target` (the label).
  void enter(Node mode, std::string target = {});
  // `exit`: back to the parent mode; from exec mode, ends the session.
  void exit_mode();
  // `end`: back to exec mode.
  void end_config();

  // Makes the next line the answer to `q` instead of a command. One question at a time.
  // In a non-interactive session nobody can answer: the line fails (use questions.h,
  // which answers for the user there).
  void ask(Question q);
  // Says that the answer being handled declines the command (a "no" to "Are you sure?"):
  // its audit record says "declined" (questions.h calls it).
  void decline();

  // Runs `line` in `mode` without leaving the current mode (`do`); `offset` is where it
  // starts in the typed line, to place error markers.
  CmdResult run_in(Node mode, std::string_view line, std::size_t offset);

  // Text for the user that arrives later (debug traces); empty when the transport gave no
  // sink. The sink is thread-safe.
  std::function<void(std::string_view)> async_output() const;
  // Keeps `value` alive as long as the session (or until detach), under `key`; an
  // existing value with the same key is released first. For per-session resources such
  // as a `debug` subscription, whose destructor undoes it.
  void attach(const std::string& key, std::shared_ptr<void> value);
  void detach(const std::string& key);
  bool attached(const std::string& key) const;

 private:
  Session& session_;
  std::string& out_;
  Node node_;
  std::size_t marker_base_;
};

}  // namespace scepter::cli
