#include "shell/terminal.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>

namespace scepter::shell {
namespace {

volatile std::sig_atomic_t g_interrupt = 0;
volatile std::sig_atomic_t g_suspend = 0;
volatile std::sig_atomic_t g_resize = 0;
volatile std::sig_atomic_t g_quit = 0;
int g_pipe[2] = {-1, -1};

constexpr int kSignals[] = {SIGINT, SIGTSTP, SIGWINCH, SIGHUP, SIGTERM, SIGQUIT};
struct sigaction g_saved[std::size(kSignals)];

void on_signal(int signo) {
  int saved_errno = errno;
  switch (signo) {
    case SIGINT:
      g_interrupt = 1;
      break;
    case SIGTSTP:
      g_suspend = 1;
      break;
    case SIGWINCH:
      g_resize = 1;
      break;
    default:
      g_quit = 1;
      break;
  }
  char byte = 0;
  (void)!::write(g_pipe[1], &byte, 1);
  errno = saved_errno;
}

}  // namespace

TerminalSignals::TerminalSignals() {
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  g_interrupt = 0;
  g_suspend = 0;
  g_resize = 0;
  g_quit = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR and the loop looks
  for (std::size_t i = 0; i < std::size(kSignals); ++i) {
    ::sigaction(kSignals[i], &sa, &g_saved[i]);
  }
}

TerminalSignals::~TerminalSignals() {
  for (std::size_t i = 0; i < std::size(kSignals); ++i) {
    ::sigaction(kSignals[i], &g_saved[i], nullptr);
  }
  for (int& fd : g_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

TerminalSignals::Event TerminalSignals::take() {
  char drain[64];
  while (g_pipe[0] >= 0 && ::read(g_pipe[0], drain, sizeof drain) > 0) {
  }
  if (g_quit) {
    g_quit = 0;
    return Event::kQuit;
  }
  if (g_interrupt) {
    g_interrupt = 0;
    return Event::kInterrupt;
  }
  if (g_suspend) {
    g_suspend = 0;
    return Event::kSuspend;
  }
  if (g_resize) {
    g_resize = 0;
    return Event::kResize;
  }
  return Event::kNone;
}

void TerminalSignals::clear_keys() {
  g_interrupt = 0;
  g_suspend = 0;
}

int TerminalSignals::fd() { return g_pipe[0]; }

NoEcho::NoEcho() {
  if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
  termios quiet = saved_;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ICANON;
  active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
}

NoEcho::~NoEcho() {
  if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

void term_write(std::string_view text) {
  termios t{};
  const bool cooked =
      ::tcgetattr(STDOUT_FILENO, &t) != 0 || ((t.c_oflag & OPOST) != 0 && (t.c_oflag & ONLCR) != 0);
  if (cooked) {  // the terminal turns '\n' into "\r\n" itself
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out.push_back('\r');
    out.push_back(text[i]);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

std::string with_newline(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s.back() != '\n') s.push_back('\n');
  return s;
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

std::string in_columns(const std::vector<std::string>& words, int width) {
  std::size_t widest = 0;
  for (const auto& w : words) widest = std::max(widest, w.size());
  const std::size_t column = widest + 2;
  const std::size_t per_row =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::max(width, 1)) / column);
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    out += words[i];
    bool last_in_row = (i + 1) % per_row == 0 || i + 1 == words.size();
    if (last_in_row) {
      out += '\n';
    } else {
      out += std::string(column - words[i].size(), ' ');
    }
  }
  return out;
}

}  // namespace scepter::shell
