// Pending questions: yes/no, passwords, pasted text, and non-interactive sessions.
#include "cli/questions.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ca/audit_log.h"
#include "ca/device.h"

#include "cli/cli_testing.h"
#include "cli/session.h"

namespace scepter::cli {
namespace {

void add_question_commands(CommandTable& t) {
  t.add(Node::kExec, "remove all", {"Remove", "Everything"}, [](Context& ctx, const Args&) {
    ctx.print("% This removes everything.\n");
    return confirm(
        ctx, "Are you sure you want to do this?",
        [](Context& c) {
          c.print("% Removed.\n");
          return CmdResult();
        },
        [](Context& c) { return c.error("Not removed."); });
  });
  t.add(Node::kExec, "include ip", {"Include", "IP"}, [](Context& ctx, const Args&) {
    return confirm_or(
        ctx, "% Include an IP address in the subject name?", false,
        [](Context& c) {
          c.print("with ip\n");
          return CmdResult();
        },
        [](Context& c) {
          c.print("without ip\n");
          return CmdResult();
        });
  });
  t.add(Node::kExec, "secret", {"Secret"}, [](Context& ctx, const Args&) {
    ctx.print("% Please enter a passphrase to protect the private key\n% or type Return to exit\n");
    PasswordQuestion q;
    q.min_length = 8;
    q.max_length = 20;
    return ask_password(
        ctx, q,
        [](Context& c, std::string pw) {
          c.printf("got {} characters\n", pw.size());
          return CmdResult();
        },
        [](Context& c) {
          c.print("% cancelled\n");
          return CmdResult();
        });
  });
  t.add(Node::kExec, "paste [keep-blank]", {"Paste", "Blank lines do not end"},
        [](Context& ctx, const Args& a) {
          ctx.print("% Enter PEM-formatted CA certificate.\n");
          PasteQuestion q;
          q.blank_line_ends = !a.has("keep-blank");
          return ask_paste(ctx, q, [](Context& c, std::string text) {
            c.printf("got [{}]\n", text);
            return CmdResult();
          });
        });
}

class QuestionsTest : public ::testing::Test {
 protected:
  void SetUp() override { add_question_commands(table_); }
  std::string transcript(std::string_view input) {
    return testing::run_transcript(session_, input);
  }
  // "LINE: OUTCOME" for each command in the audit log.
  std::vector<std::string> audited() {
    auto records = ca::read_audit(dev_.device().audit_log_path());
    EXPECT_TRUE(records.has_value()) << records.error().to_string();
    std::vector<std::string> out;
    for (const ca::AuditRecord& r : *records) {
      if (r.event == "command") out.push_back(r.detail + ": " + r.outcome);
    }
    return out;
  }
  CommandTable table_;
  testing::TempDevice dev_;
  Session session_{table_, dev_.device()};
};

TEST(ParseYesNo, IosAnswers) {
  for (std::string_view y : {"y", "ye", "yes", "YES", " Yes "}) EXPECT_EQ(parse_yes_no(y), true);
  for (std::string_view n : {"n", "no", "NO"}) EXPECT_EQ(parse_yes_no(n), false);
  for (std::string_view x : {"", "yess", "nope", "1"}) EXPECT_EQ(parse_yes_no(x), std::nullopt);
}

TEST_F(QuestionsTest, ConfirmReasksUntilYesOrNo) {
  EXPECT_EQ(transcript("remove all\nmaybe\n\nYE\n"),
            "Router#remove all\n"
            "% This removes everything.\n"
            "Are you sure you want to do this? [yes/no]: maybe\n"
            "% Please answer 'yes' or 'no'.\n"
            "Are you sure you want to do this? [yes/no]: \n"
            "% Please answer 'yes' or 'no'.\n"
            "Are you sure you want to do this? [yes/no]: YE\n"
            "% Removed.\n");
  EXPECT_EQ(session_.prompt(), "Router#");
  Reply r = session_.execute("remove all");
  EXPECT_TRUE(r.ok);
  r = session_.execute("n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% Not removed.\n");
}

TEST_F(QuestionsTest, ConfirmWithDefault) {
  EXPECT_EQ(transcript("include ip\n\ninclude ip\ny\n"),
            "Router#include ip\n"
            "% Include an IP address in the subject name? [no]: \n"
            "without ip\n"
            "Router#include ip\n"
            "% Include an IP address in the subject name? [no]: y\n"
            "with ip\n");
}

TEST_F(QuestionsTest, PasswordIsHiddenAndTypedTwice) {
  EXPECT_EQ(session_.execute("secret").output,
            "% Please enter a passphrase to protect the private key\n% or type Return to exit\n");
  EXPECT_EQ(session_.prompt(), "Password: ");
  EXPECT_TRUE(session_.input_hidden());
  EXPECT_EQ(session_.execute("short").output, "% Password must be 8 to 20 characters long.\n");
  EXPECT_EQ(session_.prompt(), "Password: ");
  EXPECT_EQ(session_.execute("secret-one").output, "");
  EXPECT_EQ(session_.prompt(), "Re-enter password: ");
  EXPECT_TRUE(session_.input_hidden());
  EXPECT_EQ(session_.execute("secret-two").output, "% Passwords do not match.\n");
  EXPECT_EQ(session_.prompt(), "Password: ");
  session_.execute("secret-one");
  EXPECT_EQ(session_.execute("secret-one").output, "got 10 characters\n");
  EXPECT_FALSE(session_.input_hidden());
  EXPECT_EQ(session_.prompt(), "Router#");
}

TEST_F(QuestionsTest, TranscriptDoesNotEchoPasswords) {
  EXPECT_EQ(transcript("secret\nsecret-one\nsecret-one\n"),
            "Router#secret\n"
            "% Please enter a passphrase to protect the private key\n"
            "% or type Return to exit\n"
            "Password: \n"
            "Re-enter password: \n"
            "got 10 characters\n");
}

TEST_F(QuestionsTest, EmptyPasswordCancels) {
  session_.execute("secret");
  EXPECT_EQ(session_.execute("").output, "% cancelled\n");
  EXPECT_EQ(session_.prompt(), "Router#");
}

TEST_F(QuestionsTest, PasteEndsAtBlankLineOrQuit) {
  EXPECT_EQ(transcript("paste\n-----BEGIN X-----\nAAAA\n-----END X-----\n\n"),
            "Router#paste\n"
            "% Enter PEM-formatted CA certificate.\n"
            "% End with a blank line or \"quit\" on a line by itself.\n"
            "-----BEGIN X-----\n"
            "AAAA\n"
            "-----END X-----\n"
            "\n"
            "got [-----BEGIN X-----\nAAAA\n-----END X-----\n]\n");
  EXPECT_EQ(transcript("paste keep\na\n\n! not a comment here\nquit\n"),
            "Router#paste keep\n"
            "% Enter PEM-formatted CA certificate.\n"
            "% End with \"quit\" on a line by itself.\n"
            "a\n"
            "\n"
            "! not a comment here\n"
            "quit\n"
            "got [a\n\n! not a comment here\n]\n");
}

// A command that asks is recorded when it is answered, with what came of it, not as "ok"
// when it is typed.
TEST_F(QuestionsTest, AnsweredCommandsAreAuditedWithTheirOutcome) {
  session_.execute("remove all");
  EXPECT_TRUE(audited().empty());
  session_.execute("maybe");
  EXPECT_TRUE(audited().empty());
  session_.execute("yes");
  EXPECT_EQ(audited(), std::vector<std::string>{"remove all: ok"});

  session_.execute("remove all");
  session_.execute("no");
  session_.execute("secret");
  session_.execute("");
  session_.execute("secret");
  session_.execute("secret-one");
  session_.execute("secret-one");
  session_.execute("include ip");
  session_.execute("");
  EXPECT_EQ(audited(),
            (std::vector<std::string>{"remove all: ok", "remove all: declined: % Not removed.",
                                      "secret: declined", "secret: ok", "include ip: ok"}));
}

TEST_F(QuestionsTest, AQuestionLeftUnansweredIsAuditedWhenTheSessionEnds) {
  {
    Session other(table_, dev_.device());
    other.execute("remove all");
    EXPECT_TRUE(audited().empty());
  }
  EXPECT_EQ(audited(), std::vector<std::string>{"remove all: not answered: the session ended"});
}

TEST_F(QuestionsTest, HelpAndCompletionWaitWhileAQuestionIsPending) {
  session_.execute("remove all");
  EXPECT_EQ(session_.help(""), "");
  EXPECT_TRUE(session_.complete("re").empty());
}

TEST(QuestionsNonInteractive, ConfirmAnswersYesPasswordsFail) {
  CommandTable table;
  add_question_commands(table);
  table.add(Node::kExec, "raw", {"Raw question"}, [](Context& ctx, const Args&) {
    ctx.ask(Question{"Name? ", false, [](Context&, std::string_view) { return CmdResult(); }});
    return CmdResult();
  });
  testing::TempDevice dev;
  Session session(table, dev.device(), SessionOptions{.interactive = false});
  Reply r = session.execute("remove all");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "% This removes everything.\n% Removed.\n");
  r = session.execute("include ip");
  EXPECT_EQ(r.output, "without ip\n");
  r = session.execute("secret");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("% A password cannot be entered"), std::string::npos);
  r = session.execute("paste");
  EXPECT_FALSE(r.ok);
  r = session.execute("raw");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% \"Name?\" needs an answer at the terminal.\n");
  EXPECT_FALSE(session.has_question());
}

}  // namespace
}  // namespace scepter::cli
