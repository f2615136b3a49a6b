// The interactive shell, end to end: the real `scepter` binary on a pseudo-terminal,
// typing as a person would, against a ControlServer with scripted sessions.

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "shell/shell_test_support.h"

namespace scepter::shell {
namespace {

using namespace std::chrono_literals;

// What a person reads: the bytes written, less carriage returns and escape sequences.
std::string readable(const std::string& raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') continue;
    if (raw[i] == '\033' && i + 1 < raw.size() && raw[i + 1] == '[') {
      i += 2;
      while (i < raw.size() && !(raw[i] >= '@' && raw[i] <= '~')) ++i;
      continue;
    }
    out.push_back(raw[i]);
  }
  return out;
}

// A child process on a pseudo-terminal; the screen is everything it wrote, made readable.
class Pty {
 public:
  Pty(const std::string& socket, const std::string& home) {
    winsize ws{};
    ws.ws_row = 24;
    ws.ws_col = 80;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ::setenv("HOME", home.c_str(), 1);
      ::setenv("TERM", "xterm", 1);
      ::unsetenv("SCEPTER_SOCKET");
      ::execl(SCEPTER_BINARY, "scepter", "--socket", socket.c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~Pty() {
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  bool started() const { return pid_ > 0; }

  void type(std::string_view keys) {
    while (!keys.empty()) {
      ssize_t n = ::write(master_, keys.data(), keys.size());
      if (n <= 0) return;
      keys.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Waits until `text` appears on the screen after the mark; moves the mark past it.
  bool expect(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto at = screen_.find(text, mark_);
      if (at != std::string::npos) {
        mark_ = at + text.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(left)) {
        ADD_FAILURE() << "never saw \"" << text << "\"; screen since mark:\n"
                      << screen_.substr(mark_);
        return false;
      }
    }
  }

  // Waits for the child to exit; returns its exit status (-1 if it did not).
  int wait_exit(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      read_some(20ms);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        while (read_some(20ms)) {
        }
        return status_;
      }
    }
    return -1;
  }

  const std::string& screen() const { return screen_; }

 private:
  bool read_some(std::chrono::milliseconds timeout) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return false;  // EIO once the child is gone
    raw_.append(buf, static_cast<std::size_t>(n));
    screen_ = readable(raw_);
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  int status_ = -1;
  std::string raw_;
  std::string screen_;
  std::size_t mark_ = 0;
};

class InteractiveTest : public testing::ShellServerTest {};

TEST_F(InteractiveTest, PromptHelpCompletionPasswordAndExit) {
  Pty pty(path_, dir_);
  ASSERT_TRUE(pty.started());
  ASSERT_TRUE(pty.expect("ca1#"));

  // '?' prints the help for the text so far, then the same line again.
  pty.type("sh?");
  ASSERT_TRUE(pty.expect("sh?\nshow  \n"));
  ASSERT_TRUE(pty.expect("ca1#sh"));
  pty.type("ow crypto\r");
  ASSERT_TRUE(pty.expect("show output for 'show crypto'"));
  ASSERT_TRUE(pty.expect("ca1#"));

  // Tab: the common prefix first, then the list of candidates, then a unique completion.
  pty.type("conf\t");
  ASSERT_TRUE(pty.expect("confi"));
  pty.type("\t");
  ASSERT_TRUE(pty.expect("\nconfigure  confirm\n"));
  ASSERT_TRUE(pty.expect("ca1#confi"));
  pty.type("g\t");
  ASSERT_TRUE(pty.expect("ure "));
  pty.type("terminal\r");
  ASSERT_TRUE(pty.expect("End with CNTL/Z."));
  ASSERT_TRUE(pty.expect("ca1(config)#"));

  // A hidden question: the password is never shown.
  pty.type("crypto pki server mycs\r");
  ASSERT_TRUE(pty.expect("ca1(cs-server)#"));
  pty.type("no shutdown\r");
  ASSERT_TRUE(pty.expect("Password: "));
  pty.type("s3cret\r");
  ASSERT_TRUE(pty.expect("Re-enter password: "));
  pty.type("s3cret\r");
  ASSERT_TRUE(pty.expect("% Certificate Server enabled (password of 6 characters)."));
  ASSERT_TRUE(pty.expect("ca1(cs-server)#"));

  // Ctrl-Z is "end".
  pty.type("\x1a");
  ASSERT_TRUE(pty.expect("^Z"));
  ASSERT_TRUE(pty.expect("ca1#"));

  // A plain '?' asks for help and is not inserted; Ctrl-V ? inserts a literal '?'.
  pty.type("echo url?");
  ASSERT_TRUE(pty.expect("echo url?\n  <cr>\n"));
  ASSERT_TRUE(pty.expect("ca1#echo url"));
  pty.type("\x16?operation=GetCRL\r");
  ASSERT_TRUE(pty.expect("\nurl?operation=GetCRL\n"));
  ASSERT_TRUE(pty.expect("ca1#"));

  pty.type("exit\r");
  EXPECT_EQ(pty.wait_exit(), 0) << pty.screen();
  EXPECT_EQ(pty.screen().find("s3cret"), std::string::npos) << pty.screen();

  // History: commands yes, answers to questions no; private file.
  const std::string history = dir_ + "/.scepter_history";
  struct stat st {};
  ASSERT_EQ(::stat(history.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::stringstream saved;
  saved << std::ifstream(history).rdbuf();
  EXPECT_NE(saved.str().find("configure"), std::string::npos) << saved.str();
  EXPECT_EQ(saved.str().find("s3cret"), std::string::npos) << saved.str();
}

TEST_F(InteractiveTest, AsyncOutputKeepsTheLineBeingTyped) {
  Pty pty(path_, dir_);
  ASSERT_TRUE(pty.expect("ca1#"));
  pty.type("ech");
  ASSERT_TRUE(pty.expect("ech"));
  ASSERT_TRUE(wait_until([&] { return hub_.live() == 1; }));
  hub_.broadcast("CRYPTO_CS: enrollment request 1 received\n");
  ASSERT_TRUE(pty.expect("CRYPTO_CS: enrollment request 1 received\n"));
  ASSERT_TRUE(pty.expect("ca1#ech"));  // the prompt and the half-typed line, redrawn
  pty.type("o still typing\r");
  ASSERT_TRUE(pty.expect("still typing\n"));
  pty.type("exit\r");
  EXPECT_EQ(pty.wait_exit(), 0) << pty.screen();
}

TEST_F(InteractiveTest, CtrlDLeavesConfigThenQuits) {
  Pty pty(path_, dir_);
  ASSERT_TRUE(pty.expect("ca1#"));
  pty.type("configure terminal\r");
  ASSERT_TRUE(pty.expect("ca1(config)#"));
  pty.type("\x04");
  ASSERT_TRUE(pty.expect("ca1#"));
  pty.type("\x04");
  EXPECT_EQ(pty.wait_exit(), 0) << pty.screen();
  EXPECT_TRUE(wait_until([&] { return hub_.live() == 0; }));
}

TEST_F(InteractiveTest, CtrlCDiscardsTheLine) {
  Pty pty(path_, dir_);
  ASSERT_TRUE(pty.expect("ca1#"));
  pty.type("fail now\x03");
  ASSERT_TRUE(pty.expect("^C"));
  pty.type("echo fresh\r");
  ASSERT_TRUE(pty.expect("\nfresh\n"));
  pty.type("exit\r");
  EXPECT_EQ(pty.wait_exit(), 0) << pty.screen();
}

TEST_F(InteractiveTest, NoDaemon) {
  Pty pty(dir_ + "/none.sock", dir_);
  ASSERT_TRUE(pty.expect("% Cannot connect to scepterd at " + dir_ +
                         "/none.sock: No such file or directory"));
  EXPECT_EQ(pty.wait_exit(), 2) << pty.screen();
}

TEST_F(InteractiveTest, DaemonGoingAway) {
  Pty pty(path_, dir_);
  ASSERT_TRUE(pty.expect("ca1#"));
  server_->stop();
  ASSERT_TRUE(pty.expect("% Lost the connection to scepterd"));
  EXPECT_EQ(pty.wait_exit(), 2) << pty.screen();
}

}  // namespace
}  // namespace scepter::shell
