#include "shell/interactive.h"

#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shell/batch_runner.h"  // exit statuses
#include "shell/control_client.h"
#include "shell/terminal.h"

namespace scepter::shell {
namespace {

constexpr wchar_t kCtrlC = 0x03;
constexpr wchar_t kCtrlZ = 0x1a;

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

// Characters (not bytes) in UTF-8 text: what el_deletestr() counts.
int char_count(std::string_view s) {
  return static_cast<int>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string common_prefix(const std::vector<std::string>& words) {
  std::string prefix = words.front();
  for (const auto& w : words) {
    std::size_t n = 0;
    while (n < prefix.size() && n < w.size() && prefix[n] == w[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

class Shell {
 public:
  Shell(ControlClient& client, const Answer& hello)
      : client_(client), prompt_(hello.prompt), hidden_(hello.hidden) {
    client_.set_async_sink([this](std::string_view text) { on_async(text); });
  }

  int run();

 private:
  struct ElDeleter {
    void operator()(EditLine* el) const { el_end(el); }
  };
  struct HistoryDeleter {
    void operator()(History* h) const { history_end(h); }
  };

  static Shell& self(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return *static_cast<Shell*>(data);
  }
  static char* prompt_fn(EditLine* el) { return self(el).prompt_.data(); }
  static int getc_fn(EditLine* el, wchar_t* wc) { return self(el).read_char(wc); }
  static unsigned char help_fn(EditLine* el, int) { return self(el).on_help(); }
  static unsigned char complete_fn(EditLine* el, int) { return self(el).on_complete(); }
  static unsigned char ctrl_z_fn(EditLine* el, int) { return self(el).on_ctrl_z(); }
  static unsigned char ctrl_d_fn(EditLine* el, int) { return self(el).on_ctrl_d(); }
  static unsigned char ctrl_c_fn(EditLine* el, int) { return self(el).on_ctrl_c(); }

  void setup_editor();
  void setup_history();
  void remember(const std::string& line);
  int read_char(wchar_t* wc);
  unsigned char on_help();
  unsigned char on_complete();
  unsigned char on_ctrl_z();
  unsigned char on_ctrl_d();
  unsigned char on_ctrl_c();
  std::optional<std::string> read_line();
  std::optional<std::string> read_hidden();
  bool execute(const std::string& line);
  void on_async(std::string_view text);
  void lose(const Status& why) {
    lost_ = true;
    lost_reason_ = why.message();
  }
  std::string line_before_cursor() const {
    const LineInfo* li = el_line(el_.get());
    return std::string(li->buffer, li->cursor);
  }

  ControlClient& client_;
  std::string prompt_;
  bool hidden_;
  std::unique_ptr<History, HistoryDeleter> history_;  // outlives the editor that uses it
  std::unique_ptr<EditLine, ElDeleter> el_;
  HistEvent event_{};
  std::string history_path_;
  enum class Reading { kNothing, kEditing, kHidden } reading_ = Reading::kNothing;
  bool ctrl_z_ = false;
  bool lost_ = false;
  std::string lost_reason_;
  bool quit_ = false;
  std::mbstate_t mb_{};
};

void Shell::setup_editor() {
  el_.reset(el_init("scepter", stdin, stdout, stderr));
  EditLine* el = el_.get();
  el_set(el, EL_CLIENTDATA, this);
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_SIGNAL, 0);  // TerminalSignals routes signals to read_char()
  el_set(el, EL_PROMPT, &Shell::prompt_fn);
  el_set(el, EL_GETCFN, &Shell::getc_fn);
  // Between prompts the terminal stays quiet and uncooked too. libedit shows the prompt
  // before it switches the terminal to editing mode, and keys typed in that gap (or
  // while a command runs, or pasted) would otherwise be echoed twice, or taken as
  // end-of-file by the kernel (Ctrl-D). The editor shows them once, at the prompt.
  el_set(el, EL_SETTY, "-x", "-echo", "-icanon", nullptr);
  el_source(el, nullptr);  // ~/.editrc, before our keys so they stay IOS-like
  // The wide call keeps our static names; the narrow one copies them and never frees.
  el_wset(el, EL_ADDFN, L"scepter-help", L"Show help for the line so far", &Shell::help_fn);
  el_wset(el, EL_ADDFN, L"scepter-complete", L"Complete the word", &Shell::complete_fn);
  el_wset(el, EL_ADDFN, L"scepter-end", L"Run the line, then leave configuration mode",
          &Shell::ctrl_z_fn);
  el_wset(el, EL_ADDFN, L"scepter-eof", L"Delete a character, or quit on an empty line",
          &Shell::ctrl_d_fn);
  el_wset(el, EL_ADDFN, L"scepter-cancel", L"Discard the line", &Shell::ctrl_c_fn);
  el_set(el, EL_BIND, "?", "scepter-help", nullptr);
  el_set(el, EL_BIND, "^I", "scepter-complete", nullptr);
  el_set(el, EL_BIND, "^Z", "scepter-end", nullptr);
  el_set(el, EL_BIND, "^D", "scepter-eof", nullptr);
  el_set(el, EL_BIND, "^C", "scepter-cancel", nullptr);
  // Ctrl-V stays ed-quoted-insert (emacs default): Ctrl-V ? inserts a literal '?'.
}

void Shell::setup_history() {
  history_.reset(history_init());
  history(history_.get(), &event_, H_SETSIZE, 1000);
  history(history_.get(), &event_, H_SETUNIQUE, 1);
  el_set(el_.get(), EL_HIST, history, history_.get());
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return;
  history_path_ = std::string(home) + "/.scepter_history";
  history(history_.get(), &event_, H_LOAD, history_path_.c_str());
}

void Shell::remember(const std::string& line) {
  history(history_.get(), &event_, H_ENTER, line.c_str());
  if (history_path_.empty()) return;
  // Commands can carry secrets (`... password X`): the file is private from its birth.
  int fd = ::open(history_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  ::fchmod(fd, 0600);
  ::close(fd);
  history(history_.get(), &event_, H_SAVE, history_path_.c_str());
}

int Shell::read_char(wchar_t* wc) {
  for (;;) {
    switch (TerminalSignals::take()) {
      case TerminalSignals::Event::kNone:
        break;
      case TerminalSignals::Event::kInterrupt:
        *wc = kCtrlC;
        return 1;
      case TerminalSignals::Event::kSuspend:
        *wc = kCtrlZ;
        return 1;
      case TerminalSignals::Event::kResize:
        el_resize(el_.get());
        continue;
      case TerminalSignals::Event::kQuit:
        quit_ = true;
        return 0;
    }
    pollfd fds[3] = {
        {STDIN_FILENO, POLLIN, 0}, {client_.fd(), POLLIN, 0}, {TerminalSignals::fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (fds[1].revents != 0) {
      Status s = client_.poll_async();  // prints above the line being edited
      if (!s.ok()) {
        lose(s);
        return 0;
      }
    }
    if (fds[0].revents != 0) {
      char c;
      ssize_t n = ::read(STDIN_FILENO, &c, 1);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return -1;
      }
      if (n == 0) return 0;
      wchar_t w = 0;
      std::size_t r = std::mbrtowc(&w, &c, 1, &mb_);
      if (r == static_cast<std::size_t>(-2)) continue;  // the middle of a character
      if (r == static_cast<std::size_t>(-1)) {
        mb_ = std::mbstate_t{};
        w = static_cast<unsigned char>(c);  // not valid here: take the byte as is
      }
      *wc = w;
      return 1;
    }
  }
}

unsigned char Shell::on_help() {
  if (is_question(prompt_, hidden_)) {
    el_insertstr(el_.get(), "?");  // an answer may contain '?'
    return CC_REFRESH;
  }
  auto answer = client_.help(line_before_cursor());
  if (!answer) {
    lose(answer.error());
    return CC_EOF;
  }
  term_write("?\n");
  term_write(with_newline(answer->output));
  return CC_REDISPLAY;
}

unsigned char Shell::on_complete() {
  if (is_question(prompt_, hidden_)) return CC_ERROR;
  std::string before = line_before_cursor();
  std::size_t space = before.find_last_of(" \t");
  std::string partial = space == std::string::npos ? before : before.substr(space + 1);
  auto answer = client_.complete(before);
  if (!answer) {
    lose(answer.error());
    return CC_EOF;
  }
  const std::vector<std::string>& words = answer->completions;
  if (words.empty()) return CC_REFRESH_BEEP;
  std::string insert = words.size() == 1 ? words.front() + " " : common_prefix(words);
  if (insert.size() > partial.size() || words.size() == 1) {
    el_deletestr(el_.get(), char_count(partial));
    el_insertstr(el_.get(), insert.c_str());
    return CC_REFRESH;
  }
  term_write("\n" + in_columns(words, terminal_width()));
  return CC_REDISPLAY;
}

unsigned char Shell::on_ctrl_z() {
  if (is_question(prompt_, hidden_)) return CC_ERROR;
  ctrl_z_ = true;
  const LineInfo* li = el_line(el_.get());
  el_cursor(el_.get(), static_cast<int>(li->lastchar - li->cursor));
  term_write("^Z");
  return CC_NEWLINE;
}

unsigned char Shell::on_ctrl_d() {
  const LineInfo* li = el_line(el_.get());
  if (li->buffer == li->lastchar) return CC_EOF;
  if (li->cursor == li->lastchar) return CC_ERROR;
  el_cursor(el_.get(), 1);
  el_deletestr(el_.get(), 1);
  return CC_REFRESH;
}

unsigned char Shell::on_ctrl_c() {
  const LineInfo* li = el_line(el_.get());
  el_cursor(el_.get(), static_cast<int>(li->lastchar - li->cursor));
  li = el_line(el_.get());
  el_deletestr(el_.get(), static_cast<int>(li->cursor - li->buffer));
  term_write("^C\n");
  return CC_REDISPLAY;
}

void Shell::on_async(std::string_view text) {
  switch (reading_) {
    case Reading::kEditing:
      term_write("\r\033[K" + with_newline(text));
      el_set(el_.get(), EL_REFRESH);  // prompt and the half-typed line, below the trace
      break;
    case Reading::kHidden:
      term_write("\r\033[K" + with_newline(text) + prompt_);
      break;
    case Reading::kNothing:
      term_write(with_newline(text));
      break;
  }
}

std::optional<std::string> Shell::read_line() {
  reading_ = Reading::kEditing;
  int count = 0;
  const char* text = el_gets(el_.get(), &count);
  reading_ = Reading::kNothing;
  if (text == nullptr || count <= 0) return std::nullopt;
  std::string line(text, static_cast<std::size_t>(count));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

std::optional<std::string> Shell::read_hidden() {
  NoEcho no_echo;  // before the prompt: what is typed once it shows must not echo
  term_write(prompt_);
  reading_ = Reading::kHidden;
  std::optional<std::string> result;
  std::string line;
  for (bool done = false; !done;) {
    switch (TerminalSignals::take()) {
      case TerminalSignals::Event::kInterrupt:  // give up on this answer
        line.clear();
        result = line;
        done = true;
        continue;
      case TerminalSignals::Event::kQuit:
        quit_ = true;
        done = true;
        continue;
      default:
        break;
    }
    pollfd fds[3] = {
        {STDIN_FILENO, POLLIN, 0}, {client_.fd(), POLLIN, 0}, {TerminalSignals::fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) {
      if (Status s = client_.poll_async(); !s.ok()) {
        lose(s);
        break;
      }
    }
    if (fds[0].revents == 0) continue;
    char buf[256];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // end of input
    line.append(buf, static_cast<std::size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      result = line;
      done = true;
    }
  }
  reading_ = Reading::kNothing;
  term_write("\n");
  return result;
}

bool Shell::execute(const std::string& line) {
  auto answer = client_.exec(line);
  if (!answer) {
    lose(answer.error());
    return false;
  }
  term_write(answer->output);
  prompt_ = answer->prompt;
  hidden_ = answer->hidden;
  return !answer->closed;
}

int Shell::run() {
  TerminalSignals signals;
  setup_editor();
  setup_history();
  for (;;) {
    TerminalSignals::clear_keys();  // a ^C typed while a command ran is stale now
    const bool question = is_question(prompt_, hidden_);
    std::optional<std::string> line = hidden_ ? read_hidden() : read_line();
    if (lost_ || quit_) break;
    if (ctrl_z_) {
      term_write("\n");
      if (!line) line = "";  // el_gets() reports an empty line as if it were the end
    }
    if (!line) {  // Ctrl-D on an empty line, or the end of input
      term_write("\n");
      if (question || !is_config_prompt(prompt_)) break;
      line = "end";
    }
    if (!question && !is_blank(*line)) remember(*line);
    bool open = true;
    if (!(ctrl_z_ && is_blank(*line))) open = execute(*line);
    if (open && ctrl_z_ && is_config_prompt(prompt_)) open = execute("end");
    ctrl_z_ = false;
    if (!open) break;
  }
  if (lost_) {
    term_write("\n% Lost the connection to scepterd: " + lost_reason_ + "\n");
    return kExitUnreachable;
  }
  return kExitOk;
}

}  // namespace

int run_interactive(const std::string& socket_path) {
  std::setlocale(LC_CTYPE, "");
  auto session = open_session(socket_path);
  if (!session) {
    std::fputs(cannot_connect_message(socket_path, session.error()).c_str(), stderr);
    return kExitUnreachable;
  }
  Shell shell(*session->client, session->hello);
  return shell.run();
}

}  // namespace scepter::shell
