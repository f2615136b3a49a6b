// Output filters: which lines each filter keeps, IOS's `_`, and what is refused.
#include "cli/output_filter.h"

#include <gtest/gtest.h>

namespace scepter::cli {
namespace {

constexpr std::string_view kConfig =
    "hostname ca1\n"
    "!\n"
    "crypto pki server cs1\n"
    " database level complete\n"
    " grant auto\n"
    "!\n"
    "crypto pki trustpoint cs1\n"
    " revocation-check crl\n"
    "!\n"
    "ip http server\n"
    "end\n";

std::string filtered(std::string_view filter, std::string_view text = kConfig) {
  std::size_t offset = 0;
  auto f = OutputFilter::parse(filter, &offset);
  EXPECT_TRUE(f.has_value()) << filter;
  return f.has_value() ? f->apply(text) : "";
}

TEST(OutputFilterTest, EachFilterKeepsWhatIosKeeps) {
  EXPECT_EQ(filtered("include crypto"), "crypto pki server cs1\ncrypto pki trustpoint cs1\n");
  EXPECT_EQ(filtered("i grant|revocation"), " grant auto\n revocation-check crl\n");
  EXPECT_EQ(filtered("exclude ^( |!)"),
            "hostname ca1\ncrypto pki server cs1\n"
            "crypto pki trustpoint cs1\nip http server\nend\n");
  EXPECT_EQ(filtered("begin trustpoint"),
            "crypto pki trustpoint cs1\n revocation-check crl\n!\nip http server\nend\n");
  EXPECT_EQ(filtered("count pki"), "Number of lines which match regexp = 2\n");
  // A section is printed whole when its header or one of its lines matches.
  EXPECT_EQ(filtered("section crypto pki server"),
            "crypto pki server cs1\n database level complete\n grant auto\n");
  EXPECT_EQ(filtered("sec grant"),
            "crypto pki server cs1\n database level complete\n grant auto\n");
  EXPECT_EQ(filtered("section crypto"),
            "crypto pki server cs1\n database level complete\n grant auto\n"
            "crypto pki trustpoint cs1\n revocation-check crl\n");
  // `_` is a delimiter: "cs1" as a word, not inside another one.
  EXPECT_EQ(filtered("include _cs1_"), "crypto pki server cs1\ncrypto pki trustpoint cs1\n");
  EXPECT_EQ(filtered("include _cs_"), "");
  EXPECT_EQ(filtered("include [_]"), "");
}

TEST(OutputFilterTest, WhatIsRefused) {
  std::size_t offset = 0;
  auto bad_word = OutputFilter::parse("grep crypto", &offset);
  ASSERT_FALSE(bad_word.has_value());
  EXPECT_EQ(offset, 0u);
  auto missing = OutputFilter::parse("include", &offset);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message(), "Incomplete command.");
  EXPECT_EQ(offset, std::string_view::npos);
  auto bad_regex = OutputFilter::parse("include (crypto", &offset);
  ASSERT_FALSE(bad_regex.has_value());
  EXPECT_NE(bad_regex.error().message().find("Invalid regular expression"), std::string::npos);
  auto too_long = OutputFilter::parse("include " + std::string(300, 'a'), &offset);
  ASSERT_FALSE(too_long.has_value());
}

TEST(OutputFilterTest, OnlyShowAndMoreTakeAFilter) {
  auto p = split_pipe("show running-config | section crypto");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->command, "show running-config");
  EXPECT_EQ(p->filter, "section crypto");
  EXPECT_EQ(p->filter_column, 22u);
  EXPECT_TRUE(split_pipe("sh run|i crypto").has_value());
  EXPECT_TRUE(split_pipe("do show running-config | include x").has_value());
  EXPECT_TRUE(split_pipe("more nvram:startup-config | begin crypto").has_value());
  EXPECT_FALSE(split_pipe("show running-config").has_value());
  EXPECT_FALSE(split_pipe("issuer-name CN=a|b").has_value());
  EXPECT_FALSE(split_pipe("s | include x").has_value());
}

}  // namespace
}  // namespace scepter::cli
