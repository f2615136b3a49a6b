#pragma once
// Session: the IOS command interpreter behind one shell connection (or one configuration
// load). It keeps the mode stack (exec > config > cs-server ...) with the name each
// submode was entered with, and the pending question, if any.
//
// A line that does not match in a config submode is tried in the parent modes (IOS leaves
// the submode for the one where it matched, as with `crypto pki server b` typed inside
// `crypto pki server a`). Lines starting with '!' and blank lines do nothing; leading
// blanks are ignored (startup-config is indented).
//
// Thread safety: as ShellSession: one thread drives a session (the control server gives
// each connection its own session and thread), except set_async_output() and the sink
// it sets, which any thread may use. No device-wide lock is held while a line runs: the
// Device and the objects it hands out lock themselves (see ca/device.h), so a long line
// in one session does not hold up another. The table must outlive the session.

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/command_table.h"
#include "cli/context.h"
#include "cli/matcher.h"
#include "cli/shell_session.h"
#include "common/mutex.h"

namespace scepter::ca {
class Device;
}

namespace scepter::cli {

struct SessionOptions {
  // False for loading a configuration: questions answer themselves (questions.h).
  bool interactive = true;
  // Start in global configuration mode instead of exec mode.
  bool start_in_config = false;
  // Who types, for the audit log ("shell uid 0 pid 4242"). The commands of an interactive
  // session that change something are recorded there, with their secrets masked; one
  // that asks a question is recorded when the answer is handled, with its outcome
  // ("ok", "declined", "failed: ..."), or when the session ends unanswered.
  std::string actor = "shell";
};

class Session final : public ShellSession {
 public:
  Session(const CommandTable& table, ca::Device& device, SessionOptions options = {});
  ~Session() override;

  Reply execute(std::string_view line) override;
  std::string help(std::string_view line) override;
  std::vector<std::string> complete(std::string_view line) override;
  std::string prompt() const override;
  bool input_hidden() const override;
  void set_async_output(std::function<void(std::string_view)> sink) override;

  Node node() const { return stack_.back().node; }
  bool interactive() const { return options_.interactive; }
  bool has_question() const { return question_.has_value(); }

 private:
  friend class Context;

  struct Frame {
    Node node;
    std::string target;
  };

  // Runs one line; appends to `out`.
  CmdResult run_line(std::string_view line, std::string& out, std::size_t prompt_width);
  CmdResult answer_question(std::string_view line, std::string& out);
  // Runs a command line in `node` or, failing that, in its config parents.
  CmdResult dispatch(std::string_view line, std::string& out, std::size_t marker_base);
  CmdResult run_matched(const MatchResult& m, Node node, std::string_view line, std::string& out,
                        std::size_t marker_base);
  // Writes the audit record of the command `detail` (masked) from its result and what it
  // printed.
  void record_command(std::string detail, const CmdResult& r, std::string_view said, bool declined);
  // The audit record waiting for the answer to a question, if any: written when no
  // question is left (or the session ends).
  void record_pending(const CmdResult& r, std::string_view said);
  // `node` and the modes above it where a failed line is tried next.
  std::vector<Node> fallback_chain(Node node) const;

  const CommandTable& table_;
  ca::Device& device_;
  SessionOptions options_;
  std::vector<Frame> stack_;
  std::optional<Question> question_;
  // The masked line of the command that asked question_, recorded once it is answered.
  std::optional<std::string> audit_pending_;
  bool answer_declined_ = false;  // Context::decline() since the command was typed
  bool closed_ = false;
  mutable Mutex sink_mu_;
  std::function<void(std::string_view)> sink_ GUARDED_BY(sink_mu_);
  // Things that live as long as the session (e.g. a `debug` subscription), by name.
  // Declared last: destroyed first, while the sink is still valid.
  std::map<std::string, std::shared_ptr<void>> attachments_;
};

}  // namespace scepter::cli
