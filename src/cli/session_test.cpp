// Modes, fall-through to parent modes, do/end/exit, error markers and comments.
#include "cli/session.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "cli/cli_testing.h"
#include "cli/commands/commands.h"
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

}  // namespace
}  // namespace scepter::cli
