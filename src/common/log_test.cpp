#include "common/log.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace scepter::log {
namespace {

TEST(LogEscape, KeepsPrintableAsciiAndUtf8) {
  EXPECT_EQ(escape("CN=router1, O=Example"), "CN=router1, O=Example");
  EXPECT_EQ(escape("C:\\path"), "C:\\path");
  EXPECT_EQ(escape("Zürich \xE2\x82\xAC \xF0\x9F\x94\x91"), "Zürich \xE2\x82\xAC \xF0\x9F\x94\x91");
  EXPECT_EQ(escape(""), "");
}

TEST(LogEscape, NewlineAndControlCharacters) {
  EXPECT_EQ(escape("a\nb"), "a\\nb");
  EXPECT_EQ(escape("x\n2026-01-01 INFO granted"), "x\\n2026-01-01 INFO granted");
  EXPECT_EQ(escape("\r\t\x1B[2J\x7F"), "\\x0D\\x09\\x1B[2J\\x7F");
  EXPECT_EQ(escape(std::string("a\0b", 3)), "a\\x00b");
}

TEST(LogEscape, InvalidUtf8ByteByByte) {
  EXPECT_EQ(escape("\xFF\xFE"), "\\xFF\\xFE");
  EXPECT_EQ(escape("\xC3"), "\\xC3");                             // truncated sequence
  EXPECT_EQ(escape("\xC3z"), "\\xC3z");                           // bad continuation
  EXPECT_EQ(escape("\xC0\xAF"), "\\xC0\\xAF");                    // overlong '/'
  EXPECT_EQ(escape("\xED\xA0\x80"), "\\xED\\xA0\\x80");           // surrogate
  EXPECT_EQ(escape("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(escape("\x80"), "\\x80");
}

TEST(LogEscape, TerminalAndBidiControlsInUtf8) {
  EXPECT_EQ(escape("\xC2\x9B"
                   "2J"),
            "\\xC2\\x9B2J");  // C1 CSI
  EXPECT_EQ(escape("a\xE2\x80\xAE"
                   "cba"),
            "a\\xE2\\x80\\xAEcba");                      // U+202E
  EXPECT_EQ(escape("\xE2\x81\xA6"), "\\xE2\\x81\\xA6");  // U+2066
  EXPECT_EQ(escape("\xE2\x80\xA8"), "\\xE2\\x80\\xA8");  // U+2028
  EXPECT_EQ(escape("\xC2\xA0"), "\xC2\xA0");             // no-break space is fine
}

TEST(Log, ListenersReceiveEscapedLines) {
  std::vector<std::string> lines;
  const auto id = subscribe(Category::kPkiServer,
                            [&](Category, std::string_view line) { lines.emplace_back(line); });
  trace(Category::kPkiServer, "request from {}", "evil\n\x1B]0;owned\x07");
  debug(Category::kPkiServer, "plain");
  unsubscribe(id);
  debug(Category::kPkiServer, "not delivered");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "request from evil\\n\\x1B]0;owned\\x07");
  EXPECT_EQ(lines[1], "plain");
}

}  // namespace
}  // namespace scepter::log

namespace scepter::log {
namespace {

TEST(LogFormat, JsonLinesStayOneValidString) {
  EXPECT_EQ(formatted("granted \"r1\"\n", Format::kText), "granted \"r1\"\\n");
  EXPECT_EQ(formatted("granted \"r1\"\n", Format::kJson), R"("granted \"r1\"\\n")");
  EXPECT_EQ(formatted("a\\b\x1b[31m", Format::kJson), R"("a\\b\\x1B[31m")");
  EXPECT_EQ(formatted("caf\xc3\xa9", Format::kJson), "\"caf\xc3\xa9\"");
}

}  // namespace
}  // namespace scepter::log
