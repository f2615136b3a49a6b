#pragma once
// The non-interactive shell: `scepter -c LINE...` and `scepter < script`. Every line is
// typed into ONE daemon session, in order, exactly as at the prompt; when the daemon's
// answer leaves a question pending ("Password: ", "[yes/no]: "), the next line is the
// answer. Only the daemon's output is printed (no command echo); a question's prompt is
// printed followed by a newline so the transcript reads naturally, and the answer never
// is. A failing line does not stop the run (as when pasting configuration into a router).

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace scepter::shell {

// Exit statuses of `scepter`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // some line's answer had ok=false
inline constexpr int kExitUnreachable = 2;  // scepterd could not be reached, or went away

// Returns the next line (without its '\n'), or nullopt at the end of input.
using LineSource = std::function<std::optional<std::string>()>;
LineSource lines_from(std::vector<std::string> lines);
LineSource lines_from(std::istream& in);  // `in` must outlive the source

// Runs every line in one session on the daemon at `socket_path`. Output (and async
// lines, as they arrive) goes to `out`; the shell's own messages go to `err`. Returns
// kExitOk, kExitFailed (also when input ends with a question unanswered) or
// kExitUnreachable. Stops early when the daemon closes the session (`exit`).
int run_batch(const std::string& socket_path, const LineSource& next_line, std::ostream& out,
              std::ostream& err);

}  // namespace scepter::shell
