#include "daemon/control_server.h"

#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/testing.h"
#include "daemon/control_fake_session.h"
#include "daemon/control_protocol.h"
#include "daemon/control_test_client.h"

namespace scepter::daemon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeSessionHub;
using testing::RawControlClient;

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// What a shell running as `uid`/`gid` with `groups` gets when it connects and runs
// "echo hello": a child process changes its credentials (root only) and uses nothing but
// system calls, as the parent has threads. "connect failed" when the kernel refuses.
std::string connect_as(const std::string& path, uid_t uid, gid_t gid,
                       const std::vector<gid_t>& groups) {
  int out[2];
  if (::pipe(out) != 0) return "pipe failed";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  static constexpr char kRequest[] = "{\"op\":\"exec\",\"line\":\"echo hello\"}\n";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
        ::setuid(uid) != 0) {
      ::_exit(3);
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(4);
    (void)::send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL);
    char buf[512];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) == 1) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) (void)!::write(out[1], buf, static_cast<std::size_t>(n));
    }
    ::_exit(0);
  }
  ::close(out[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) got.append(buf, n);
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 4) return "connect failed";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed";
  return got;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/scepter-ctl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/scepterd.sock";  // run/ does not exist yet: start() makes it
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  ControlServer& start(std::size_t max_connections = 64, mode_t socket_mode = 0600) {
    ControlServerOptions options;
    options.path = path_;
    options.max_connections = max_connections;
    options.socket_mode = socket_mode;
    server_ = std::make_unique<ControlServer>(options, hub_.factory());
    EXPECT_OK(server_->start());
    return *server_;
  }

  std::unique_ptr<RawControlClient> connect() {
    auto c = std::make_unique<RawControlClient>(path_);
    EXPECT_TRUE(c->valid());
    return c;
  }

  json exec(RawControlClient& c, std::string_view line) {
    EXPECT_TRUE(c.exec(line));
    return c.read_json();
  }

  std::string dir_;
  std::string path_;
  FakeSessionHub hub_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, HelloGivesThePrompt) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send_json({{"op", "hello"}}));
  json j = c->read_json();
  EXPECT_EQ(j["prompt"], "ca1#");
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["closed"], false);
  EXPECT_EQ(j["hidden"], false);
  EXPECT_EQ(j["output"], "");
}

TEST_F(ControlServerTest, SocketIsPrivate) {
  start();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(ControlServerTest, ExecMovesThroughModes) {
  start();
  auto c = connect();
  json j = exec(*c, "configure terminal");
  EXPECT_EQ(j["prompt"], "ca1(config)#");
  EXPECT_EQ(j["output"], "Enter configuration commands, one per line.  End with CNTL/Z.\n");
  EXPECT_EQ(exec(*c, "crypto pki server mycs")["prompt"], "ca1(cs-server)#");
  EXPECT_EQ(exec(*c, "end")["prompt"], "ca1#");
  j = exec(*c, "fail");
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["output"], "% Invalid input detected at '^' marker.\n");
}

TEST_F(ControlServerTest, HelpAndComplete) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send_json({{"op", "help"}, {"line", "s"}}));
  json j = c->read_json();
  EXPECT_EQ(j["output"], "show  sleep  \n");
  EXPECT_EQ(j["prompt"], "ca1#");
  ASSERT_TRUE(c->send_json({{"op", "complete"}, {"line", "conf"}}));
  j = c->read_json();
  EXPECT_EQ(j["completions"], json({"configure", "confirm"}));
  EXPECT_EQ(j["prompt"], "ca1#");
}

TEST_F(ControlServerTest, HiddenQuestionIsAnsweredByTheNextLine) {
  start();
  auto c = connect();
  exec(*c, "configure terminal");
  exec(*c, "crypto pki server mycs");
  json j = exec(*c, "no shutdown");
  EXPECT_EQ(j["prompt"], "Password: ");
  EXPECT_EQ(j["hidden"], true);
  j = exec(*c, "s3cret");
  EXPECT_EQ(j["prompt"], "Re-enter password: ");
  EXPECT_EQ(j["hidden"], true);
  j = exec(*c, "s3cret");
  EXPECT_EQ(j["output"], "% Certificate Server enabled (password of 6 characters).\n");
  EXPECT_EQ(j["prompt"], "ca1(cs-server)#");
  EXPECT_EQ(j["hidden"], false);
}

TEST_F(ControlServerTest, AsyncOutputFromOtherThreadsArrivesBetweenAnswers) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->exec("async 3"));
  for (int i = 0; i < 3; ++i) {
    json j = c->read_json();
    EXPECT_EQ(j["async"], "CRYPTO_CS: trace line " + std::to_string(i) + "\n");
  }
  EXPECT_EQ(c->read_json()["output"], "sent 3\n");
  // Async output while idle (a debug trace with no command running).
  hub_.broadcast("CRYPTO_CS: idle trace\n");
  EXPECT_EQ(c->read_json()["async"], "CRYPTO_CS: idle trace\n");
}

TEST_F(ControlServerTest, AsyncLinesNeverSplitAnswers) {
  start();
  auto c = connect();
  std::atomic<bool> done{false};
  std::thread noise([&] {
    while (!done) hub_.broadcast("CRYPTO_CS: noise " + std::string(3000, 'n') + "\n");
  });
  int answers = 0;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(c->exec("echo " + std::to_string(i)));
  while (answers < 200) {
    json j = c->read_json();
    ASSERT_FALSE(j.is_discarded());
    if (j.contains("async")) continue;
    EXPECT_EQ(j["output"], std::to_string(answers) + "\n");
    ++answers;
  }
  done = true;
  c->close();  // a broadcast blocked on a full socket fails at once
  noise.join();
}

// A shell that does not read its debug trace costs the threads that trace nothing: the
// lines that do not fit are dropped (and counted to the shell), the shell stays connected,
// and its commands are answered.
TEST_F(ControlServerTest, AShellThatDoesNotReadLosesTraceLinesNotTheConnection) {
  start();
  auto c = connect();
  ASSERT_EQ(exec(*c, "echo ready")["output"], "ready\n");
  // Far more than a socket buffer holds, while the client reads nothing.
  const std::string line = "CRYPTO_CS: flood " + std::string(4000, 'f') + "\n";
  for (int i = 0; i < 3000; ++i) hub_.broadcast(line);
  hub_.broadcast("CRYPTO_CS: after the flood\n");
  ASSERT_TRUE(c->exec("echo still here"));
  bool told = false;
  for (;;) {
    json j = c->read_json();
    ASSERT_FALSE(j.is_discarded()) << "the connection was dropped";
    if (j.contains("async")) {
      const std::string text = j["async"];
      if (text.find("debug line(s) dropped") != std::string::npos) told = true;
      continue;
    }
    EXPECT_EQ(j["output"], "still here\n");
    break;
  }
  // The count comes with the first line that fits once the client reads again.
  hub_.broadcast("CRYPTO_CS: later\n");
  for (int i = 0; i < 3 && !told; ++i) {
    json j = c->read_json();
    ASSERT_FALSE(j.is_discarded());
    if (j.contains("async") &&
        std::string(j["async"]).find("debug line(s) dropped") != std::string::npos) {
      told = true;
    }
  }
  EXPECT_TRUE(told);
}

TEST_F(ControlServerTest, MalformedRequestsKeepTheConnection) {
  start();
  auto c = connect();
  for (const char* bad : {"not json", "[1]", R"({"op":"format"})", R"({"op":"exec"})"}) {
    ASSERT_TRUE(c->send_raw(std::string(bad) + "\n"));
    json j = c->read_json();
    EXPECT_EQ(j["output"], "% Internal error: bad request\n") << bad;
    EXPECT_EQ(j["ok"], false);
  }
  ASSERT_TRUE(c->send_raw("\n  \r\n"));  // blank lines are ignored, not answered
  EXPECT_EQ(exec(*c, "echo still here")["output"], "still here\n");
}

TEST_F(ControlServerTest, OversizedLineIsRejectedAndSkipped) {
  start();
  auto c = connect();
  std::string huge = R"({"op":"exec","line":")" + std::string(kMaxRequestBytes + 10, 'x');
  std::thread writer([&] { c->send_raw(huge + "\"}\n"); });
  json j = c->read_json();
  writer.join();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["output"], "% Internal error: request longer than 1 MiB\n");
  EXPECT_EQ(exec(*c, "echo after")["output"], "after\n");
  // Just under the limit is fine.
  std::string big(kMaxRequestBytes - 100, 'y');
  std::thread writer2([&] { c->exec("echo " + big); });
  j = c->read_json();
  writer2.join();
  EXPECT_EQ(j["output"], big + "\n");
}

TEST_F(ControlServerTest, SessionExceptionIsAnInternalError) {
  start();
  auto c = connect();
  json j = exec(*c, "throw");
  EXPECT_EQ(j["output"], "% Internal error.\n");
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(exec(*c, "echo ok")["output"], "ok\n");
}

TEST_F(ControlServerTest, ExitClosesTheConnection) {
  start();
  auto c = connect();
  json j = exec(*c, "exit");
  EXPECT_EQ(j["closed"], true);
  EXPECT_TRUE(c->at_eof());
  EXPECT_TRUE(wait_until([&] { return hub_.live() == 0; }));
}

TEST_F(ControlServerTest, DisconnectMidQuestionEndsTheSession) {
  start();
  auto c = connect();
  EXPECT_EQ(exec(*c, "confirm")["prompt"], "Proceed? [yes/no]: ");
  EXPECT_EQ(hub_.live(), 1);
  c->close();
  EXPECT_TRUE(wait_until([&] { return hub_.live() == 0 && server_->connection_count() == 0; }));
}

TEST_F(ControlServerTest, CapsConcurrentConnections) {
  ControlServer& server = start(64);
  std::vector<std::unique_ptr<RawControlClient>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(connect());
    EXPECT_EQ(exec(*clients.back(), "echo " + std::to_string(i))["output"],
              std::to_string(i) + "\n");
  }
  EXPECT_EQ(server.connection_count(), 64u);
  auto extra = connect();
  json j = extra->read_json();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["closed"], true);
  EXPECT_EQ(j["output"], "% Too many shell sessions (64 open), try again later\n");
  EXPECT_TRUE(extra->at_eof());
  EXPECT_EQ(hub_.created(), 64);

  clients.front()->close();
  ASSERT_TRUE(wait_until([&] { return server.connection_count() == 63; }));
  auto again = connect();
  EXPECT_EQ(exec(*again, "echo back")["output"], "back\n");
}

TEST_F(ControlServerTest, StopClosesConnectedClientsPromptly) {
  ControlServer& server = start();
  std::vector<std::unique_ptr<RawControlClient>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(connect());
    exec(*clients.back(), "confirm");  // some wait in the middle of a question
  }
  auto busy = connect();
  ASSERT_TRUE(busy->exec("sleep 300"));  // one is in the middle of a command
  ASSERT_TRUE(wait_until([&] { return server.connection_count() == 6; }));

  // Prompt: stop() does not wait for the clients in a question (they would wait forever);
  // the deadline only guards against a hang.
  auto stopped = std::async(std::launch::async, [&] { server.stop(); });
  ASSERT_EQ(stopped.wait_for(60s), std::future_status::ready);
  EXPECT_FALSE(server.running());
  EXPECT_EQ(hub_.live(), 0);
  for (auto& c : clients) EXPECT_TRUE(c->at_eof());
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_FALSE(RawControlClient(path_).valid());
  server.stop();  // idempotent
}

TEST_F(ControlServerTest, StartStopAreRepeatableAndExclusive) {
  ControlServer& server = start();
  EXPECT_CODE(server.start(), Code::kAlreadyExists);
  ControlServerOptions options;
  options.path = path_;
  ControlServer rival(options, hub_.factory());
  EXPECT_CODE(rival.start(), Code::kAlreadyExists);  // a live daemon keeps its socket
  EXPECT_TRUE(std::filesystem::exists(path_));

  server.stop();
  ASSERT_OK(server.start());
  auto c = connect();
  EXPECT_EQ(exec(*c, "echo again")["output"], "again\n");

  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&server, i] {
      if (i % 2 == 0) {
        server.stop();
      } else {
        (void)server.start();
      }
    });
  }
  for (auto& t : threads) t.join();
  server.stop();
  EXPECT_FALSE(server.running());
}

TEST_F(ControlServerTest, RemovesAStaleSocket) {
  std::filesystem::create_directories(dir_ + "/run");
  {
    testing::RawControlClient unused(path_);  // nothing listens yet
    EXPECT_FALSE(unused.valid());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }  // closed without unlink: what a crashed daemon leaves behind
  ASSERT_TRUE(std::filesystem::exists(path_));
  start();
  auto c = connect();
  EXPECT_EQ(exec(*c, "echo fresh")["output"], "fresh\n");
}

TEST_F(ControlServerTest, RefusesPathsItMustNotTouch) {
  std::filesystem::create_directories(dir_ + "/run");
  std::ofstream(path_) << "not a socket";
  ControlServerOptions options;
  options.path = path_;
  ControlServer server(options, hub_.factory());
  EXPECT_CODE(server.start(), Code::kInvalidArgument);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));

  options.path = dir_ + "/" + std::string(120, 'x');
  ControlServer too_long(options, hub_.factory());
  EXPECT_CODE(too_long.start(), Code::kInvalidArgument);
}

TEST_F(ControlServerTest, RefusedSessionGetsAnError) {
  ControlServerOptions options;
  options.path = path_;
  server_ = std::make_unique<ControlServer>(
      options, [](const std::string&) { return std::unique_ptr<cli::ShellSession>(); });
  ASSERT_OK(server_->start());
  auto c = connect();
  json j = c->read_json();
  EXPECT_EQ(j["output"], "% Internal error.\n");
  EXPECT_EQ(j["closed"], true);
  EXPECT_TRUE(c->at_eof());
}

TEST_F(ControlServerTest, RefusesASocketModeBeyondTheGroup) {
  ControlServerOptions options;
  options.path = path_;
  options.socket_mode = 0666;
  ControlServer server(options, hub_.factory());
  EXPECT_CODE(server.start(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

// The packaged service: scepterd runs as its own user with a 0660 socket, and root and
// the members of the socket's group use the shell.
TEST_F(ControlServerTest, GroupMembersMayUseA0660SocketAndNobodyElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as other users";
  constexpr uid_t kUser = 54321;
  constexpr gid_t kOtherGroup = 54322;
  start(64, 0660);
  // The socket's group is the daemon's (root's here); let other users reach the socket.
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod((dir_ + "/run").c_str(), 0711), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  const gid_t group = st.st_gid;

  EXPECT_NE(connect_as(path_, kUser, group, {}).find("hello"), std::string::npos);
  EXPECT_NE(connect_as(path_, kUser, kOtherGroup, {group}).find("hello"), std::string::npos);
  EXPECT_EQ(connect_as(path_, kUser, kOtherGroup, {}), "connect failed");

  // Loosened by hand: the kernel lets a stranger connect, scepterd still says no.
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  const std::string stranger = connect_as(path_, kUser, kOtherGroup, {});
  EXPECT_NE(stranger.find("Permission denied"), std::string::npos) << stranger;
  EXPECT_EQ(stranger.find("hello"), std::string::npos) << stranger;
}

TEST_F(ControlServerTest, A0600SocketKeepsGroupMembersOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as other users";
  start();
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod((dir_ + "/run").c_str(), 0711), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(connect_as(path_, 54321, st.st_gid, {}), "connect failed");
  // Even with the file opened by hand, the mode scepterd was given decides.
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  EXPECT_NE(connect_as(path_, 54321, st.st_gid, {}).find("Permission denied"), std::string::npos);
  EXPECT_NE(connect_as(path_, 0, 0, {}).find("hello"), std::string::npos);
}

}  // namespace
}  // namespace scepter::daemon
