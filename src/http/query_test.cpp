#include "http/query.h"

#include <string>

#include <gtest/gtest.h>

namespace scepter::http {
namespace {

TEST(PercentDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(percent_decode("a%2Fb%2fc%3D%3d"), "a/b/c==");
  EXPECT_EQ(percent_decode("%00%FF"), std::string("\0\xff", 2));
}

TEST(PercentDecode, KeepsPlusAsPlus) {
  // SCEP clients send base64 with bare '+'; form decoding would corrupt it.
  EXPECT_EQ(percent_decode("ab+cd%2B"), "ab+cd+");
}

TEST(PercentDecode, KeepsMalformedEscapes) {
  EXPECT_EQ(percent_decode("%"), "%");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("%zz%4g"), "%zz%4g");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%%41"), "%A");
}

TEST(QueryParams, ParsesScepQuery) {
  // What Cisco IOS sends for GET PKIOperation: base64 with %0A line breaks.
  const QueryParams p =
      QueryParams::parse("operation=PKIOperation&message=MIIB+a%2Fb%3D%0AQUJD%3D%3D%0A");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p.get("operation"), "PKIOperation");
  EXPECT_EQ(p.get("message"), "MIIB+a/b=\nQUJD==\n");
  EXPECT_EQ(p.raw("message"), "MIIB+a%2Fb%3D%0AQUJD%3D%3D%0A");
  EXPECT_FALSE(p.get("Operation").has_value());  // names are case-sensitive
}

TEST(QueryParams, KeepsOrderDuplicatesAndBareNames) {
  const QueryParams p = QueryParams::parse("a=1&&b&a=2&=x&c=");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p.get("a"), "1");
  EXPECT_EQ(p.get_all("a"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_TRUE(p.contains("b"));
  EXPECT_EQ(p.get("b"), "");
  EXPECT_EQ(p.get(""), "x");
  EXPECT_EQ(p.get("c"), "");
  EXPECT_FALSE(p.contains("d"));
  EXPECT_EQ(p.items()[1].name, "b");
}

TEST(QueryParams, DecodesNamesAndKeepsEqualsInValues) {
  const QueryParams p = QueryParams::parse("na%6De=v=w");
  EXPECT_EQ(p.get("name"), "v=w");
  EXPECT_EQ(p.raw("name"), "v=w");
}

TEST(QueryParams, EmptyQuery) {
  EXPECT_TRUE(QueryParams::parse("").empty());
  EXPECT_TRUE(QueryParams::parse("&&&").empty());
}

TEST(SplitTarget, OriginForm) {
  const Target t = split_target("/cgi-bin/pkiclient.exe?operation=GetCACaps&message=ca");
  EXPECT_EQ(t.path, "/cgi-bin/pkiclient.exe");
  EXPECT_EQ(t.query, "operation=GetCACaps&message=ca");
}

TEST(SplitTarget, DecodesPathButNotQuery) {
  const Target t = split_target("/a%20b/c?x=%20");
  EXPECT_EQ(t.path, "/a b/c");
  EXPECT_EQ(t.query, "x=%20");
}

TEST(SplitTarget, AbsoluteForm) {
  Target t = split_target("http://ca.example.com:80/cgi-bin/pkiclient.exe?operation=GetCACert");
  EXPECT_EQ(t.path, "/cgi-bin/pkiclient.exe");
  EXPECT_EQ(t.query, "operation=GetCACert");
  t = split_target("HTTP://ca?x=1");
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.query, "x=1");
  t = split_target("https://ca");
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.query, "");
}

TEST(SplitTarget, OddTargets) {
  EXPECT_EQ(split_target("").path, "/");
  EXPECT_EQ(split_target("*").path, "/*");
  EXPECT_EQ(split_target("?a=b").path, "/");
  EXPECT_EQ(split_target("?a=b").query, "a=b");
  // IOS builds this from "enrollment url http://ca:8081/scep" in some releases.
  EXPECT_EQ(split_target("/scep:8081/pkiclient.exe?operation=GetCACert").path,
            "/scep:8081/pkiclient.exe");
  EXPECT_EQ(split_target("/a?b?c").query, "b?c");
}

}  // namespace
}  // namespace scepter::http
