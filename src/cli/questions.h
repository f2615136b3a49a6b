#pragma once
// The three questions IOS commands ask, built on Context::ask(). Each returns at once (a
// handler returns what it returns); the callback runs when the user has answered, with a
// fresh Context, and may ask again. In a non-interactive session (configuration load):
// confirm() answers "yes" (or its default) at once, ask_password() and ask_paste() fail
// with an error (handlers use the values in the configuration there).
//
//   // crypto pki server X remove all
//   return confirm(ctx, "Are you sure you want to do this?", [label](Context& c) {
//     return c.device()...remove_all(label);
//   });
//
//   // crypto pki server X request pkcs10 terminal
//   ctx.print("% Enter Base64 encoded or PEM formatted PKCS10 enrollment request.\n");
//   return ask_paste(ctx, {}, [label](Context& c, std::string text) { ... });

// The audit record of a command that asks is written when the last question is answered
// (cli/session.h): "ok" or "failed: ..." from what the answer's callback returns, or
// "declined" for a "no" to confirm() or ask_confirm(), a "no" to confirm_or() without
// `on_no`, or a password question cancelled.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "cli/context.h"

namespace scepter::cli {

using Then = std::function<CmdResult(Context&)>;

// Asks "<question> [yes/no]: " until the answer is y/ye/yes or n/no (any case); anything
// else prints "% Please answer 'yes' or 'no'." and asks again. `on_no` may be empty
// (nothing happens).
CmdResult confirm(Context& ctx, std::string question, Then on_yes, Then on_no = nullptr);
// IOS's "<question>[confirm]": Return, y or yes go on; any other answer drops the
// command silently, as IOS does.
CmdResult ask_confirm(Context& ctx, std::string question, Then on_yes);
// The same with a default taken on an empty answer: "<question> [no]: ".
CmdResult confirm_or(Context& ctx, std::string question, bool default_yes, Then on_yes,
                     Then on_no = nullptr);

struct PasswordQuestion {
  std::string prompt = "Password: ";
  // Asked after the first entry, which must be typed again; "" asks once.
  std::string reenter_prompt = "Re-enter password: ";
  // An empty first entry cancels ("% or type Return to exit").
  bool empty_cancels = true;
  std::size_t min_length = 0;  // 0: no limit
  std::size_t max_length = 0;  // 0: no limit
  // Printed when the two entries differ; the question starts again.
  std::string mismatch_message = "% Passwords do not match.";
  // Printed when the length is out of bounds; "{min}" and "{max}" are replaced.
  std::string length_message = "% Password must be {min} to {max} characters long.";
};
// Asks for a secret (not echoed) and hands it to `on_password`. `on_cancel` may be empty.
CmdResult ask_password(Context& ctx, PasswordQuestion q,
                       std::function<CmdResult(Context&, std::string)> on_password,
                       Then on_cancel = nullptr);

struct PasteQuestion {
  // False when the text may contain blank lines (PEM private keys): only "quit" ends it.
  bool blank_line_ends = true;
  std::size_t max_bytes = 1 << 20;
};
// Collects the lines that follow (without prompt) until "quit" or, if allowed, a blank
// line, and hands them to `on_text` joined with '\n' (each line ends with '\n'). Prints
// the IOS hint first: % End with a blank line or "quit" on a line by itself.
CmdResult ask_paste(Context& ctx, PasteQuestion q,
                    std::function<CmdResult(Context&, std::string)> on_text);

// For tests and parsers: y/ye/yes -> true, n/no -> false (any case), else nullopt.
std::optional<bool> parse_yes_no(std::string_view answer);

}  // namespace scepter::cli
