#pragma once
// Terminal helpers for the interactive shell: signal routing, echo control and output
// formatting. Everything here touches process-wide state (signal dispositions, the
// terminal), so it is used from the main thread only.

#include <string>
#include <string_view>
#include <vector>

#include <termios.h>

namespace scepter::shell {

// While alive, SIGINT, SIGTSTP, SIGWINCH, SIGHUP, SIGTERM and SIGQUIT do not act by
// themselves: they are recorded, and a self-pipe (fd()) becomes readable so a poll(2)
// loop wakes up. Ctrl-C and Ctrl-Z thus reach the line editor as keys (IOS meanings), and
// a hangup ends the shell cleanly with the terminal restored. One instance at a time.
class TerminalSignals {
 public:
  enum class Event { kNone, kInterrupt, kSuspend, kResize, kQuit };
  TerminalSignals();
  ~TerminalSignals();
  TerminalSignals(const TerminalSignals&) = delete;
  TerminalSignals& operator=(const TerminalSignals&) = delete;

  // The most urgent pending event (quit, interrupt, suspend, resize), now consumed.
  static Event take();
  // Forgets pending Ctrl-C / Ctrl-Z (typed while a command was running).
  static void clear_keys();
  static int fd();
};

// Turns terminal echo off for stdin while alive (canonical input and signals stay on).
// Does nothing when stdin is not a terminal.
class NoEcho {
 public:
  NoEcho();
  ~NoEcho();
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  bool active_ = false;
  termios saved_{};
};

// Writes to stdout and flushes; line ends become "\r\n" when the terminal does not do it
// itself (the line editor may turn output post-processing off).
void term_write(std::string_view text);
// `text`, with a '\n' added unless empty or already there.
std::string with_newline(std::string_view text);
// The terminal's width in columns (80 when unknown).
int terminal_width();
// Words laid out in columns, row by row, each line ending in '\n' (completion lists).
std::string in_columns(const std::vector<std::string>& words, int width);

}  // namespace scepter::shell
