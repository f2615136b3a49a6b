#pragma once
// The interactive shell: IOS-style line editing on the terminal, against one daemon
// session.
//
//   - the prompt is the daemon's ("ca1#", "ca1(config)#", or a question);
//   - '?' prints the daemon's help for the text before the cursor, then redisplays the
//     prompt and the same line; Ctrl-V '?' inserts a literal '?';
//   - Tab completes the word when the daemon offers one candidate (or a longer common
//     prefix), otherwise lists the candidates;
//   - a question marked hidden (a password) is read without echo and kept out of the
//     history; answers to questions never enter the history (~/.scepter_history, 0600);
//   - Ctrl-Z runs the line being edited (if any) and then "end"; Ctrl-C discards the line;
//     Ctrl-D on an empty line leaves configuration mode ("end") or, at exec, quits;
//   - async output (debug traces) is printed above the line being edited, which is then
//     redrawn.

#include <string>

namespace scepter::shell {

// Runs until `exit`, Ctrl-D at exec, end of input, or the daemon going away. Needs stdin
// to be a terminal. Returns kExitOk, or kExitUnreachable when the daemon cannot be
// reached or the connection is lost.
int run_interactive(const std::string& socket_path);

}  // namespace scepter::shell
