#include "cli/context.h"

#include "cli/session.h"

namespace scepter::cli {

Context::Context(Session& session, std::string& out, Node node, std::size_t marker_base)
    : session_(session), out_(out), node_(node), marker_base_(marker_base) {}

ca::Device& Context::device() { return session_.device_; }

const CommandTable& Context::table() const { return session_.table_; }

bool Context::interactive() const { return session_.options_.interactive; }

std::string_view Context::target(Node mode) const {
  for (auto it = session_.stack_.rbegin(); it != session_.stack_.rend(); ++it) {
    if (it->node == mode) return it->target;
  }
  return {};
}

CmdResult Context::error(std::string_view message) {
  out_.append("% ");
  out_.append(message);
  out_.append("\n");
  return CmdResult::printed_failure();
}

CmdResult Context::invalid_input(const Args& args, std::string_view name) {
  MatchResult m;
  m.status = MatchStatus::kInvalid;
  m.error_offset = args.offset(name).value_or(0);
  out_.append(match_error_text(m, "", marker_base_));
  return CmdResult::printed_failure();
}

void Context::enter(Node mode, std::string target) {
  CA_ASSERT(parent_of(mode) == session_.node(), "a submode is entered from its parent");
  session_.stack_.push_back(Session::Frame{mode, std::move(target)});
}

void Context::exit_mode() {
  if (session_.stack_.size() == 1) {
    session_.closed_ = true;
    return;
  }
  session_.stack_.pop_back();
}

void Context::end_config() { session_.stack_.resize(1); }

void Context::ask(Question q) {
  CA_ASSERT(!session_.question_.has_value(), "one question at a time");
  CA_ASSERT(static_cast<bool>(q.on_answer), "a question needs a continuation");
  session_.question_ = std::move(q);
}

void Context::decline() { session_.answer_declined_ = true; }

CmdResult Context::run_in(Node mode, std::string_view line, std::size_t offset) {
  // The command sees `mode` as the current mode; whatever mode it enters is dropped.
  struct Restore {
    Session& s;
    std::vector<Session::Frame> saved;
    ~Restore() { s.stack_ = std::move(saved); }
  } restore{session_, session_.stack_};
  std::vector<Session::Frame> frames;
  for (Node n = mode;; n = parent_of(n)) {
    frames.insert(frames.begin(), Session::Frame{n, {}});
    if (n == Node::kExec) break;
  }
  session_.stack_ = std::move(frames);
  MatchResult m = match_command(session_.table_, mode, line);
  if (m.status == MatchStatus::kEmpty) return {};
  if (m.status != MatchStatus::kOk) {
    out_.append(match_error_text(m, line, marker_base_ + offset));
    return CmdResult::printed_failure();
  }
  return session_.run_matched(m, mode, line, out_, marker_base_ + offset);
}

std::function<void(std::string_view)> Context::async_output() const {
  MutexLock lock(session_.sink_mu_);
  return session_.sink_;
}

void Context::attach(const std::string& key, std::shared_ptr<void> value) {
  session_.attachments_.erase(key);
  session_.attachments_[key] = std::move(value);
}

void Context::detach(const std::string& key) { session_.attachments_.erase(key); }

bool Context::attached(const std::string& key) const {
  return session_.attachments_.count(key) != 0;
}

}  // namespace scepter::cli
