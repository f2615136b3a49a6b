// Modes, fall-through to parent modes, do/end/exit, error markers and comments.
#include "cli/session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "cli/cli_testing.h"
#include "cli/commands/commands.h"
#include "cli/commands/more_commands_testing.h"
#include "cli/test_table.h"

namespace scepter::cli {
namespace {

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_system_commands(table_);
    testing::build_test_table(table_);
    table_.add(Node::kExec, "explode", {"Throw"},
               [](Context&, const Args&) -> CmdResult { throw std::runtime_error("boom"); });
  }
  Reply run(std::string_view line) { return session_.execute(line); }

  CommandTable table_;
  testing::TempDevice dev_;
  Session session_{table_, dev_.device()};
};

TEST_F(SessionTest, ModesAndPrompts) {
  EXPECT_EQ(session_.prompt(), "Router#");
  Reply r = run("configure terminal");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "Enter configuration commands, one per line.  End with CNTL/Z.\n");
  EXPECT_EQ(session_.prompt(), "Router(config)#");
  EXPECT_TRUE(run("crypto pki server mycs").ok);
  EXPECT_EQ(session_.prompt(), "Router(cs-server)#");
  EXPECT_TRUE(run("lifetime crl 24").ok);
  EXPECT_EQ(testing::last_call().target, "mycs");
  EXPECT_EQ(testing::last_call().node, Node::kCsServer);
  // Another server's line leaves this one for the other (through config mode).
  EXPECT_TRUE(run("crypto pki server other").ok);
  EXPECT_TRUE(run("lifetime crl 12").ok);
  EXPECT_EQ(testing::last_call().target, "other");
  // A global command runs in config mode and leaves the submode.
  EXPECT_TRUE(run("hostname ca1").ok);
  EXPECT_EQ(session_.prompt(), "ca1(config)#");
  EXPECT_TRUE(run("crypto pki server mycs").ok);
  EXPECT_TRUE(run("exit").ok);
  EXPECT_EQ(session_.prompt(), "ca1(config)#");
  EXPECT_TRUE(run("crypto pki server mycs").ok);
  EXPECT_TRUE(run("end").ok);
  EXPECT_EQ(session_.prompt(), "ca1#");
  EXPECT_TRUE(run("conf t").ok);
  EXPECT_TRUE(run("exit").ok);
  EXPECT_EQ(session_.prompt(), "ca1#");
  r = run("exit");
  EXPECT_TRUE(r.closed);
}

TEST_F(SessionTest, ExecCommandsAreNotTriedFromConfig) {
  run("configure terminal");
  Reply r = run("show clock");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, std::string(15, ' ') + "^\n% Invalid input detected at '^' marker.\n");
}

TEST_F(SessionTest, DoRunsExecCommandsAndStays) {
  run("configure terminal");
  run("crypto pki server mycs");
  Reply r = run("do show crypto pki server x1");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(testing::last_call().grammar, "show crypto pki server [WORD$label]");
  EXPECT_EQ(testing::last_call().args.word("label"), "x1");
  EXPECT_EQ(testing::last_call().node, Node::kExec);
  EXPECT_EQ(session_.prompt(), "Router(cs-server)#");
  // The marker counts from the prompt through "do ".
  r = run("do show clock now");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, std::string(18 + 14, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  EXPECT_EQ(session_.help("do show "),
            "  clock   Display the system clock\n"
            "  crypto  Encryption module\n");
  EXPECT_EQ(session_.help("do sh"), "show  shutdown\n");
  EXPECT_EQ(session_.help("do "), "  LINE  Exec Command\n");
  EXPECT_EQ(session_.help("do show clock "), "  |  Output modifiers\n  <cr>\n");
  EXPECT_EQ(session_.help("do show clock | in"), "include\n");
  EXPECT_EQ(session_.help("do show clock | include "), "  LINE  Regular Expression\n");
  EXPECT_EQ(session_.complete("do show cr"), std::vector<std::string>{"crypto"});
  EXPECT_EQ(session_.prompt(), "Router(cs-server)#");
  // Modes entered inside `do` do not stick.
  EXPECT_TRUE(run("do configure terminal").ok);
  EXPECT_EQ(session_.prompt(), "Router(cs-server)#");
}

TEST_F(SessionTest, ErrorMarkersCountThePrompt) {
  Reply r = run("show clock now");
  EXPECT_EQ(r.output, std::string(7 + 11, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  EXPECT_FALSE(r.ok);
  run("configure terminal");
  run("crypto pki server mycs");
  r = run("lifetime crl 400");
  EXPECT_EQ(r.output, std::string(18 + 13, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  r = run("  bogus");
  EXPECT_EQ(r.output, std::string(18 + 2, ' ') + "^\n% Invalid input detected at '^' marker.\n");
}

TEST_F(SessionTest, DeepestFailureIsReported) {
  run("configure terminal");
  run("crypto pki server mycs");
  // Incomplete in config mode beats "invalid at the first word" in cs-server mode.
  EXPECT_EQ(run("hostname").output, "% Incomplete command.\n");
  EXPECT_EQ(run("lifetime").output, "% Incomplete command.\n");
  EXPECT_EQ(run("e").output, "% Ambiguous command:  \"e\"\n");
}

TEST_F(SessionTest, CommentsBlankLinesAndIndentation) {
  for (std::string_view line : {"", "   ", "! a comment", "  !indented comment"}) {
    Reply r = run(line);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.output, "");
  }
  EXPECT_TRUE(run("   show clock").ok);
  EXPECT_TRUE(run("show clock\r\n").ok);
}

TEST_F(SessionTest, HelpAndCompletionFallBackToParentModes) {
  run("configure terminal");
  run("crypto pki server mycs");
  EXPECT_EQ(session_.help("hostname "), "  WORD  This system's network name\n");
  EXPECT_EQ(session_.complete("host"), std::vector<std::string>{"hostname"});
  EXPECT_EQ(session_.help("zzz "), "% Unrecognized command\n");
}

TEST_F(SessionTest, ExceptionsBecomeInternalError) {
  Reply r = run("explode");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% Internal error.\n");
  EXPECT_TRUE(run("show clock").ok);
}

TEST_F(SessionTest, StatusFailuresPrintWithPercent) {
  table_.add(Node::kExec, "failing", {"Fails"},
             [](Context&, const Args&) -> CmdResult { return not_found("No such thing"); });
  Reply r = run("failing");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% No such thing\n");
}

TEST_F(SessionTest, Transcript) {
  EXPECT_EQ(testing::run_transcript(session_, "sh?\nshow ?\nconf t\nend\n"),
            "Router#sh?\n"
            "show  shutdown\n"
            "Router#show ?\n"
            "  clock   Display the system clock\n"
            "  crypto  Encryption module\n"
            "Router#conf t\n"
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "Router(config)#end\n");
}

// Two shells on one device: a line that takes long in the first (key generation, an
// import, a copy) holds up nothing in the second. Event-based: the first session is held
// inside its line until the second is done; if the first held a device-wide lock, the
// second session's lines would never return.
class ConcurrentSessionsTest : public ::testing::Test {
 protected:
  ConcurrentSessionsTest() { testing::build_full_table(table_); }

  // What another shell can do meanwhile: read the configuration and the keys, change
  // the hostname, make a key.
  void second_shell_works() {
    Session second(table_, dev_.device());
    Reply r = second.execute("show running-config");
    EXPECT_TRUE(r.ok) << r.output;
    EXPECT_NE(r.output.find("hostname Router\n"), std::string::npos) << r.output;
    EXPECT_TRUE(second.execute("configure terminal").ok);
    r = second.execute("crypto key generate ec keysize 256 label meanwhile");
    EXPECT_TRUE(r.ok) << r.output;
    EXPECT_TRUE(second.execute("hostname other").ok);
    EXPECT_EQ(second.prompt(), "other(config)#");
    r = second.execute("do show crypto key mypubkey ec");
    EXPECT_TRUE(r.ok) << r.output;
    EXPECT_NE(r.output.find("Key name: meanwhile\n"), std::string::npos) << r.output;
  }

  CommandTable table_;
  testing::KeyDevice dev_;
};

TEST_F(ConcurrentSessionsTest, SecondSessionRunsWhileFirstIsInsideALine) {
  std::promise<void> inside;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  table_.add(Node::kExec, "slow-line", {"Blocks until the test releases it"},
             [&](Context& ctx, const Args&) -> CmdResult {
               inside.set_value();
               released.wait();
               ctx.print("done\n");
               return {};
             });
  Session first(table_, dev_.device());
  Reply first_reply;
  std::thread shell([&] { first_reply = first.execute("slow-line"); });
  inside.get_future().wait();
  second_shell_works();
  release.set_value();
  shell.join();
  EXPECT_TRUE(first_reply.ok);
  EXPECT_EQ(first_reply.output, "done\n");
  EXPECT_EQ(first.prompt(), "other#");
}

// The same with a real command: `crypto pki import` reading its file from a FIFO stays
// inside the line until the test writes the file, as a slow copy would.
TEST_F(ConcurrentSessionsTest, SecondSessionRunsWhileFirstImports) {
  const std::string fifo = (dev_.root() / "slow.p12").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Session first(table_, dev_.device());
  ASSERT_TRUE(first.execute("configure terminal").ok);
  Reply first_reply;
  std::thread shell([&] {
    // Asked "Source filename [slow.p12]?": Return reads it.
    first_reply = first.execute("crypto pki import imp pkcs12 " + fifo + " secret");
    EXPECT_EQ(first.prompt(), "Source filename [slow.p12]? ");
    first_reply = first.execute("");
  });
  // Opening the FIFO for writing returns once the import has opened it to read: the
  // first session is then inside its line, waiting for the data.
  int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  second_shell_works();
  ASSERT_EQ(::write(fd, "not pkcs12", 10), 10);
  ::close(fd);
  shell.join();
  EXPECT_FALSE(first_reply.ok);
  EXPECT_NE(first_reply.output.find("% Not a PKCS12 file"), std::string::npos)
      << first_reply.output;
  EXPECT_FALSE(dev_.device().keys().get("imp").has_value());
}

}  // namespace
}  // namespace scepter::cli
