#include "shell/batch_runner.h"

#include <sys/wait.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/control_protocol.h"
#include "daemon/control_test_client.h"
#include "shell/control_client.h"
#include "shell/shell_test_support.h"

namespace scepter::shell {
namespace {

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

class BatchRunnerTest : public testing::ShellServerTest {
 protected:
  Outcome run(std::vector<std::string> lines, const std::string& path = "") {
    Outcome r;
    std::ostringstream out, err;
    r.code = run_batch(path.empty() ? path_ : path, lines_from(std::move(lines)), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
};

TEST_F(BatchRunnerTest, LinesRunInOrderInOneSession) {
  Outcome r = run({"configure terminal", "crypto pki server mycs", "echo in cs-server", "end",
                   "echo back at exec"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "in cs-server\n"
            "back at exec\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(hub_.created(), 1);
}

TEST_F(BatchRunnerTest, HiddenQuestionIsAnsweredByTheNextLine) {
  Outcome r = run({"configure terminal", "crypto pki server mycs", "no shutdown", "s3cret",
                   "s3cret", "echo done"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "%Some server settings cannot be changed after CA certificate generation.\n"
            "Password: \n"
            "Re-enter password: \n"
            "% Certificate Server enabled (password of 6 characters).\n"
            "done\n");
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
}

TEST_F(BatchRunnerTest, ConfirmationIsAnsweredByTheNextLine) {
  Outcome r = run({"confirm", "yes", "confirm", "no"});
  EXPECT_EQ(r.out, "Proceed? [yes/no]: \nDone.\nProceed? [yes/no]: \n% Aborted.\n");
  EXPECT_EQ(r.code, kExitFailed);
}

TEST_F(BatchRunnerTest, FailingLineGivesStatusOneAndTheRestStillRuns) {
  Outcome r = run({"echo before", "fail", "echo after"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.out, "before\n% Invalid input detected at '^' marker.\nafter\n");
}

TEST_F(BatchRunnerTest, NoDaemonGivesStatusTwo) {
  const std::string missing = dir_ + "/nobody.sock";
  Outcome r = run({"echo x"}, missing);
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "% Cannot connect to scepterd at " + missing + ": No such file or directory\n");
}

TEST_F(BatchRunnerTest, DaemonGoingAwayGivesStatusTwo) {
  std::thread stopper([&] {
    ASSERT_TRUE(wait_until([&] { return hub_.sleeping() == 1; }));  // inside "sleep 400"
    server_->stop();
  });
  Outcome r = run({"echo a", "sleep 400", "echo b"});
  stopper.join();
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.out, "a\n");
  EXPECT_EQ(r.err.rfind("% Lost the connection to scepterd at " + path_ + ": ", 0), 0u) << r.err;
}

TEST_F(BatchRunnerTest, InputEndingOnAQuestionFails) {
  Outcome r = run({"echo a", "confirm"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.out, "a\nProceed? [yes/no]: \n");
  EXPECT_EQ(r.err, "% Input ended while scepterd was waiting for an answer\n");
}

TEST_F(BatchRunnerTest, ExitEndsTheRun) {
  Outcome r = run({"echo a", "exit", "echo b"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "a\n");
  EXPECT_TRUE(wait_until([&] { return hub_.live() == 0; }));
}

TEST_F(BatchRunnerTest, AsyncOutputIsPrintedAsItComes) {
  Outcome r = run({"async 2", "echo x"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "CRYPTO_CS: trace line 0\nCRYPTO_CS: trace line 1\nsent 2\nx\n");
}

TEST_F(BatchRunnerTest, ReadsLinesFromAStream) {
  std::istringstream in("configure terminal\r\nno such command\necho tail");
  std::ostringstream out, err;
  int code = run_batch(path_, lines_from(in), out, err);
  EXPECT_EQ(code, kExitFailed);
  EXPECT_EQ(out.str(),
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "% Invalid input detected at '^' marker.\n"
            "tail\n");
}

TEST_F(BatchRunnerTest, OversizedLineIsRefusedAndTheRunGoesOn) {
  Outcome r = run({"echo " + std::string(daemon::kMaxRequestBytes, 'x'), "echo next"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_EQ(r.out, "% Internal error: request longer than 1 MiB\nnext\n");
}

TEST_F(BatchRunnerTest, SixtyFifthSessionIsRefused) {
  std::vector<std::unique_ptr<daemon::testing::RawControlClient>> held;
  for (int i = 0; i < 64; ++i) {
    held.push_back(std::make_unique<daemon::testing::RawControlClient>(path_));
    ASSERT_TRUE(held.back()->send_json({{"op", "hello"}}));
    ASSERT_FALSE(held.back()->read_json().is_discarded());
  }
  Outcome r = run({"echo x"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.err, "% Cannot connect to scepterd at " + path_ +
                       ": Too many shell sessions (64 open), try again later\n");
  held.clear();
  ASSERT_TRUE(wait_until([&] { return server_->connection_count() == 0; }));
  EXPECT_EQ(run({"echo x"}).out, "x\n");
}

TEST(PromptKinds, QuestionsAndModes) {
  EXPECT_FALSE(is_question("ca1#", false));
  EXPECT_FALSE(is_question("ca1(config)#", false));
  EXPECT_FALSE(is_question("ca1>", false));
  EXPECT_TRUE(is_question("Password: ", false));
  EXPECT_TRUE(is_question("ca1#", true));
  EXPECT_TRUE(is_question("% Do you want to continue? [yes/no]: ", false));
  EXPECT_TRUE(is_question("", false));
  EXPECT_TRUE(is_config_prompt("ca1(cs-server)#"));
  EXPECT_FALSE(is_config_prompt("ca1#"));
}

// The real binary: -c parsing and exit statuses as a script sees them.
class ScepterBinaryTest : public testing::ShellServerTest {
 protected:
  Outcome sh(const std::string& args, const std::string& input = "") {
    std::string cmd = std::string(SCEPTER_BINARY) + " " + args + " 2>&1";
    if (!input.empty()) cmd = "printf '" + input + "' | " + cmd;
    Outcome r;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }
};

TEST_F(ScepterBinaryTest, EachDashCIsOneLine) {
  Outcome r = sh("--socket " + path_ +
                 " -c 'configure terminal' -c 'crypto pki server x' -c 'no shutdown'"
                 " -c pw1 -c pw1 -c 'echo end of script'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out,
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "%Some server settings cannot be changed after CA certificate generation.\n"
            "Password: \n"
            "Re-enter password: \n"
            "% Certificate Server enabled (password of 3 characters).\n"
            "end of script\n");
}

TEST_F(ScepterBinaryTest, StdinScriptAndStatuses) {
  EXPECT_EQ(sh("-s " + path_, "echo one\\nfail\\necho two\\n").out,
            "one\n% Invalid input detected at '^' marker.\ntwo\n");
  EXPECT_EQ(sh("-s " + path_, "fail\\n").code, 1);
  Outcome r = sh("-s " + dir_ + "/none.sock -c 'echo x'");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out,
            "% Cannot connect to scepterd at " + dir_ + "/none.sock: No such file or directory\n");
  ::setenv("SCEPTER_SOCKET", (dir_ + "/none.sock").c_str(), 1);
  EXPECT_EQ(sh("-c 'echo env'").code, 2);
  ::setenv("SCEPTER_SOCKET", path_.c_str(), 1);
  EXPECT_EQ(sh("-c 'echo from env'").out, "from env\n");
  ::unsetenv("SCEPTER_SOCKET");
}

}  // namespace
}  // namespace scepter::shell
