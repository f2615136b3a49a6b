#include "cli/questions.h"

#include <cctype>
#include <memory>

#include "common/parse.h"

namespace scepter::cli {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

CmdResult run(const Then& fn, Context& ctx) { return fn ? fn(ctx) : CmdResult(); }

// `no_declines`: a "no" declines the command (its audit record says so), rather than
// choosing the other way to do it.
void ask_yes_no(Context& ctx, std::string prompt, std::optional<bool> fallback, bool no_declines,
                Then on_yes, Then on_no) {
  Question q;
  q.prompt = prompt;
  q.on_answer = [prompt, fallback, no_declines, on_yes, on_no](Context& c,
                                                               std::string_view answer) {
    std::optional<bool> yes = parse_yes_no(answer);
    if (!yes && fallback && trim_space(answer).empty()) yes = fallback;
    if (!yes) {
      c.print("% Please answer 'yes' or 'no'.\n");
      ask_yes_no(c, prompt, fallback, no_declines, on_yes, on_no);
      return CmdResult();
    }
    if (!*yes && no_declines) c.decline();
    return run(*yes ? on_yes : on_no, c);
  };
  ctx.ask(std::move(q));
}

std::string length_message(const PasswordQuestion& q) {
  std::string msg = q.length_message;
  auto put = [&](std::string_view key, std::size_t v) {
    auto pos = msg.find(key);
    if (pos != std::string::npos) msg.replace(pos, key.size(), std::to_string(v));
  };
  put("{min}", q.min_length);
  put("{max}", q.max_length);
  return msg;
}

using PasswordFn = std::function<CmdResult(Context&, std::string)>;

void ask_first_password(Context& ctx, std::shared_ptr<const PasswordQuestion> q,
                        PasswordFn on_password, Then on_cancel);

void ask_second_password(Context& ctx, std::shared_ptr<const PasswordQuestion> q, std::string first,
                         PasswordFn on_password, Then on_cancel) {
  Question second;
  second.prompt = q->reenter_prompt;
  second.hidden = true;
  second.on_answer = [q, first = std::move(first), on_password, on_cancel](Context& c,
                                                                           std::string_view again) {
    if (again != first) {
      c.print(q->mismatch_message + "\n");
      ask_first_password(c, q, on_password, on_cancel);
      return CmdResult();
    }
    return on_password(c, first);
  };
  ctx.ask(std::move(second));
}

void ask_first_password(Context& ctx, std::shared_ptr<const PasswordQuestion> q,
                        PasswordFn on_password, Then on_cancel) {
  Question first;
  first.prompt = q->prompt;
  first.hidden = true;
  first.on_answer = [q, on_password, on_cancel](Context& c, std::string_view pw) {
    if (pw.empty() && q->empty_cancels) {
      c.decline();
      return run(on_cancel, c);
    }
    if ((q->min_length && pw.size() < q->min_length) ||
        (q->max_length && pw.size() > q->max_length)) {
      c.print(length_message(*q) + "\n");
      ask_first_password(c, q, on_password, on_cancel);
      return CmdResult();
    }
    if (q->reenter_prompt.empty()) return on_password(c, std::string(pw));
    ask_second_password(c, q, std::string(pw), on_password, on_cancel);
    return CmdResult();
  };
  ctx.ask(std::move(first));
}

struct PasteState {
  PasteQuestion q;
  std::string text;
  std::function<CmdResult(Context&, std::string)> on_text;
};

void ask_next_line(Context& ctx, std::shared_ptr<PasteState> st) {
  Question next;
  next.on_answer = [st](Context& c, std::string_view line) {
    std::string_view t = trim_space(line);
    if (iequals(t, "quit") || (t.empty() && st->q.blank_line_ends)) {
      return st->on_text(c, std::move(st->text));
    }
    if (st->text.size() + line.size() + 1 > st->q.max_bytes) {
      return c.error("Input is too long.");
    }
    st->text.append(line);
    st->text.push_back('\n');
    ask_next_line(c, st);
    return CmdResult();
  };
  ctx.ask(std::move(next));
}

}  // namespace

std::optional<bool> parse_yes_no(std::string_view answer) {
  std::string_view a = trim_space(answer);
  for (std::string_view yes : {"y", "ye", "yes"}) {
    if (iequals(a, yes)) return true;
  }
  for (std::string_view no : {"n", "no"}) {
    if (iequals(a, no)) return false;
  }
  return std::nullopt;
}

CmdResult confirm(Context& ctx, std::string question, Then on_yes, Then on_no) {
  if (!ctx.interactive()) return run(on_yes, ctx);
  ask_yes_no(ctx, question + " [yes/no]: ", std::nullopt, true, std::move(on_yes),
             std::move(on_no));
  return {};
}

CmdResult ask_confirm(Context& ctx, std::string question, Then on_yes) {
  if (!ctx.interactive()) return run(on_yes, ctx);
  Question q;
  q.prompt = question + "[confirm]";
  q.on_answer = [on_yes = std::move(on_yes)](Context& c, std::string_view answer) {
    answer = trim_space(answer);
    if (answer.empty() || parse_yes_no(answer) == std::optional<bool>(true)) return run(on_yes, c);
    c.decline();
    return CmdResult();
  };
  ctx.ask(std::move(q));
  return {};
}

CmdResult confirm_or(Context& ctx, std::string question, bool default_yes, Then on_yes,
                     Then on_no) {
  if (!ctx.interactive()) return run(default_yes ? on_yes : on_no, ctx);
  std::string prompt = question + (default_yes ? " [yes]: " : " [no]: ");
  const bool no_declines = !on_no;
  ask_yes_no(ctx, std::move(prompt), default_yes, no_declines, std::move(on_yes), std::move(on_no));
  return {};
}

CmdResult ask_password(Context& ctx, PasswordQuestion q, PasswordFn on_password, Then on_cancel) {
  if (!ctx.interactive()) {
    return ctx.error("A password cannot be entered while the configuration is loaded.");
  }
  ask_first_password(ctx, std::make_shared<const PasswordQuestion>(std::move(q)),
                     std::move(on_password), std::move(on_cancel));
  return {};
}

CmdResult ask_paste(Context& ctx, PasteQuestion q,
                    std::function<CmdResult(Context&, std::string)> on_text) {
  if (!ctx.interactive()) {
    return ctx.error("Text cannot be pasted while the configuration is loaded.");
  }
  ctx.print(q.blank_line_ends ? "% End with a blank line or \"quit\" on a line by itself.\n"
                              : "% End with \"quit\" on a line by itself.\n");
  auto st = std::make_shared<PasteState>(PasteState{q, {}, std::move(on_text)});
  ask_next_line(ctx, st);
  return {};
}

}  // namespace scepter::cli
