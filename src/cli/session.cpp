#include "cli/session.h"

#include <exception>
#include <utility>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/output_filter.h"
#include "common/log.h"

namespace scepter::cli {
namespace {

constexpr std::string_view kInternalError = "% Internal error.\n";

std::string_view trim_newline(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Session::Session(const CommandTable& table, ca::Device& device, SessionOptions options)
    : table_(table), device_(device), options_(options) {
  stack_.push_back(Frame{Node::kExec, {}});
  if (options_.start_in_config) stack_.push_back(Frame{Node::kConfig, {}});
}

Session::~Session() {
  if (audit_pending_) {
    device_.audit().record({"command", options_.actor, "", std::move(*audit_pending_),
                            "not answered: the session ended"});
  }
}

Reply Session::execute(std::string_view line) {
  line = trim_newline(line);
  Reply reply;
  bool answering = question_.has_value();
  bool secret = answering && question_->hidden;
  try {
    CmdResult r = run_line(line, reply.output, prompt().size());
    reply.ok = r.ok();
  } catch (const std::exception& e) {
    // The one catch-all of the CLI: a throwing library must not take the daemon down.
    log::error("CLI: exception while running \"{}\": {}", secret ? "<hidden>" : line, e.what());
    question_.reset();
    record_pending(CmdResult::printed_failure(), kInternalError);
    reply.output += kInternalError;
    reply.ok = false;
  } catch (...) {
    log::error("CLI: unknown exception while running \"{}\"", secret ? "<hidden>" : line);
    question_.reset();
    record_pending(CmdResult::printed_failure(), kInternalError);
    reply.output += kInternalError;
    reply.ok = false;
  }
  reply.closed = closed_;
  return reply;
}

CmdResult Session::run_line(std::string_view line, std::string& out, std::size_t prompt_width) {
  if (question_) return answer_question(line, out);
  return dispatch(line, out, prompt_width);
}

CmdResult Session::answer_question(std::string_view line, std::string& out) {
  Question q = std::move(*question_);
  question_.reset();
  Context ctx(*this, out, node(), 0);
  const std::size_t printed = out.size();
  CmdResult r = q.on_answer(ctx, line);
  if (!question_) record_pending(r, std::string_view(out).substr(printed));
  if (!r.ok() && !r.unprinted_message().empty()) {
    out += "% " + r.unprinted_message() + "\n";
    return CmdResult::printed_failure();
  }
  return r;
}

std::vector<Node> Session::fallback_chain(Node node) const {
  std::vector<Node> chain{node};
  // Config submodes fall back up to global config, never to exec (that takes `do`).
  while (node != Node::kConfig && is_config_node(node)) {
    node = parent_of(node);
    chain.push_back(node);
  }
  return chain;
}

CmdResult Session::dispatch(std::string_view line, std::string& out, std::size_t marker_base) {
  std::string_view text = trim(line);
  if (text.empty() || text.front() == '!') return {};
  if (auto piped = split_pipe(line)) {
    // show ... | include REGEX: the filter is checked first, then applied to what the
    // command prints.
    std::size_t offset = 0;
    auto filter = OutputFilter::parse(piped->filter, &offset);
    if (!filter.has_value()) {
      if (offset != std::string_view::npos) {
        out += fmt::format("{:>{}}\n", "^", marker_base + piped->filter_column + offset + 1);
      }
      out += "% " + filter.error().message() + "\n";
      return CmdResult::printed_failure();
    }
    std::string unfiltered;
    CmdResult r =
        dispatch(line.substr(0, piped->command.data() + piped->command.size() - line.data()),
                 unfiltered, marker_base);
    out += filter->apply(unfiltered);
    return r;
  }
  std::optional<MatchResult> best_failure;
  for (Node n : fallback_chain(node())) {
    MatchResult m = match_command(table_, n, line);
    if (m.status == MatchStatus::kOk) {
      while (stack_.back().node != n) stack_.pop_back();
      return run_matched(m, n, line, out, marker_base);
    }
    if (!best_failure || m.progress() > best_failure->progress()) best_failure = std::move(m);
  }
  out += match_error_text(*best_failure, text, marker_base);
  return CmdResult::printed_failure();
}

namespace {

// Commands that only look (or move between modes) are not audited; `do` is, through the
// exec command it runs.
bool audited(const Command& command) {
  const std::string_view g = command.grammar;
  for (std::string_view look :
       {"show", "more", "dir", "terminal", "exit", "end", "do", "configure", "enable", "disable"}) {
    if (g.starts_with(look) && (g.size() == look.size() || g[look.size()] == ' ')) return false;
  }
  return g.find(" info ") == std::string_view::npos;
}

}  // namespace

CmdResult Session::run_matched(const MatchResult& m, Node node, std::string_view line,
                               std::string& out, std::size_t marker_base) {
  Context ctx(*this, out, node, marker_base);
  const std::size_t printed = out.size();
  CmdResult r = m.command->handler(ctx, m.args);
  if (options_.interactive && audited(*m.command)) {
    // The line as matched, its passwords, passphrases and PINs masked.
    std::string detail =
        std::string(trim(m.args.masked(line, {"password", "passphrase", "pw", "pin"})));
    if (question_ && !audit_pending_) {
      // What it does depends on the answer: recorded then.
      audit_pending_ = std::move(detail);
      answer_declined_ = false;
    } else if (!question_) {
      record_command(std::move(detail), r, std::string_view(out).substr(printed), false);
    }
  }
  if (question_ && !options_.interactive) {
    // Nobody can answer while a configuration loads; handlers should not have asked.
    out += fmt::format("% \"{}\" needs an answer at the terminal.\n", trim(question_->prompt));
    question_.reset();
    return CmdResult::printed_failure();
  }
  if (!r.ok() && !r.unprinted_message().empty()) {
    out += "% " + r.unprinted_message() + "\n";
    return CmdResult::printed_failure();
  }
  return r;
}

// The outcome is the first line the command printed when it failed.
void Session::record_command(std::string detail, const CmdResult& r, std::string_view said,
                             bool declined) {
  std::string outcome = declined ? "declined" : "ok";
  if (!r.ok()) {
    if (said.empty()) said = r.unprinted_message();
    outcome = fmt::format("{}: {}", declined ? "declined" : "failed",
                          trim(said.substr(0, said.find('\n'))));
  }
  device_.audit().record({"command", options_.actor, "", std::move(detail), std::move(outcome)});
}

void Session::record_pending(const CmdResult& r, std::string_view said) {
  if (!audit_pending_) return;
  std::string detail = std::move(*audit_pending_);
  audit_pending_.reset();
  record_command(std::move(detail), r, said, std::exchange(answer_declined_, false));
}

std::string Session::prompt() const {
  if (question_) return question_->prompt;
  return render_prompt(node(), device_.hostname());
}

bool Session::input_hidden() const { return question_ && question_->hidden; }

std::string Session::help(std::string_view line) {
  if (question_) return "";
  try {
    line = trim_newline(line);
    if (const std::size_t bar = line.find('|');
        bar != std::string_view::npos && takes_output_filter(line.substr(0, bar))) {
      return output_filter_help(line.substr(bar + 1));
    }
    std::string first;
    for (Node n : fallback_chain(node())) {
      bool recognized = false;
      std::string text = help_listing(table_, n, line, recognized);
      // An empty line lists the current mode only, as IOS.
      if (recognized || trim(line).empty()) return text;
      if (first.empty()) first = std::move(text);
    }
    return first;
  } catch (const std::exception& e) {
    log::error("CLI: exception in help for \"{}\": {}", line, e.what());
    return std::string(kInternalError);
  }
}

std::vector<std::string> Session::complete(std::string_view line) {
  if (question_) return {};
  try {
    line = trim_newline(line);
    for (Node n : fallback_chain(node())) {
      auto c = completions(table_, n, line);
      if (!c.empty()) return c;
    }
  } catch (const std::exception& e) {
    log::error("CLI: exception in completion for \"{}\": {}", line, e.what());
  }
  return {};
}

void Session::set_async_output(std::function<void(std::string_view)> sink) {
  MutexLock lock(sink_mu_);
  sink_ = std::move(sink);
}

}  // namespace scepter::cli
