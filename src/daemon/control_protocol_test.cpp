#include "daemon/control_protocol.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/testing.h"

namespace scepter::daemon {
namespace {

TEST(ControlProtocol, ParsesEveryOp) {
  auto hello = parse_request(R"({"op":"hello"})");
  ASSERT_OK(hello);
  EXPECT_EQ(hello->op, ControlOp::kHello);
  auto exec = parse_request(R"({"op":"exec","line":"show crypto pki server"})");
  ASSERT_OK(exec);
  EXPECT_EQ(exec->op, ControlOp::kExec);
  EXPECT_EQ(exec->line, "show crypto pki server");
  auto help = parse_request(R"({"op":"help","line":"sh"})");
  ASSERT_OK(help);
  EXPECT_EQ(help->op, ControlOp::kHelp);
  auto complete = parse_request(R"({"line":"conf","op":"complete","extra":1})");
  ASSERT_OK(complete);
  EXPECT_EQ(complete->op, ControlOp::kComplete);
  EXPECT_EQ(complete->line, "conf");
}

TEST(ControlProtocol, RejectsBadRequests) {
  for (const char* bad : {"", "not json", "[1,2]", "\"exec\"", R"({"op":1})", R"({"op":"rm"})",
                          R"({"op":"exec"})", R"({"op":"exec","line":5})",
                          R"({"op":"exec","line":"a\nb"})", R"({"op":"exec","line":"x")"}) {
    EXPECT_CODE(parse_request(bad), Code::kInvalidArgument) << bad;
  }
}

TEST(ControlProtocol, EncodesOneLine) {
  ControlAnswer answer;
  answer.output = "line 1\nline 2\n";
  answer.prompt = "ca1(config)#";
  std::string line = encode_answer(answer);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["output"], "line 1\nline 2\n");
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["closed"], false);
  EXPECT_EQ(j["prompt"], "ca1(config)#");
  EXPECT_EQ(j["hidden"], false);
  EXPECT_FALSE(j.contains("completions"));

  answer.completions = std::vector<std::string>{"show", "shutdown"};
  j = nlohmann::json::parse(encode_answer(answer));
  EXPECT_EQ(j["completions"], nlohmann::json({"show", "shutdown"}));
}

TEST(ControlProtocol, ReplacesInvalidUtf8) {
  ControlAnswer answer;
  answer.output = "bad \xff byte\n";
  auto j = nlohmann::json::parse(encode_answer(answer));
  EXPECT_EQ(j["output"], "bad \xEF\xBF\xBD byte\n");
  auto a = nlohmann::json::parse(encode_async("x\xc3"));
  EXPECT_EQ(a["async"], "x\xEF\xBF\xBD");
}

}  // namespace
}  // namespace scepter::daemon
