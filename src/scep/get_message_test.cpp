// GET PKIOperation `message=` values as real clients write them.

#include <gtest/gtest.h>

#include "common/testing.h"
#include "scep/request.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

// Bytes whose base64 has '+', '/' and padding: "MIIB+AAA////AAECAw==".
const std::string kDer = std::string("\x30\x82\x01\xf8\x00\x00\xff\xff\xff\x00\x01\x02\x03", 13);

std::string b64(std::string_view der) {
  std::string out(((der.size() + 2) / 3) * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<int>(der.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::string percent_escape(std::string s) {
  s = replace_all(s, "+", "%2B");
  s = replace_all(s, "/", "%2F");
  return replace_all(s, "=", "%3D");
}

TEST(GetMessage, PlainBase64) {
  ASSERT_NE(b64(kDer).find('+'), std::string::npos);
  ASSERT_NE(b64(kDer).find('/'), std::string::npos);
  ASSERT_NE(b64(kDer).find('='), std::string::npos);
  auto der = decode_get_message(b64(kDer));
  ASSERT_OK(der);
  EXPECT_EQ(*der, kDer);
}

TEST(GetMessage, IosLineBreaksEscapedAsPercent0A) {
  // IOS: a '\n' every 64 characters, then percent-escaped along with + / =.
  const testing::Pki& p = testing::shared_pki();
  const std::string der = testing::cert_der(p.ca_cert.get());
  std::string wrapped;
  const std::string plain = b64(der);
  for (size_t i = 0; i < plain.size(); i += 64) wrapped += plain.substr(i, 64) + "\n";
  std::string value = replace_all(percent_escape(wrapped), "\n", "%0A");
  ASSERT_NE(value.find("%0A"), std::string::npos);
  auto got = decode_get_message(value);
  ASSERT_OK(got);
  EXPECT_EQ(*got, der);
  // Lower-case hex escapes and CRLF as well.
  value = replace_all(replace_all(percent_escape(wrapped), "%2B", "%2b"), "\n", "%0d%0a");
  got = decode_get_message(value);
  ASSERT_OK(got);
  EXPECT_EQ(*got, der);
}

TEST(GetMessage, MacOsRawPlusAndSlash) {
  // macOS escapes only '='.
  std::string value = replace_all(b64(kDer), "=", "%3D");
  auto der = decode_get_message(value);
  ASSERT_OK(der);
  EXPECT_EQ(*der, kDer);
}

TEST(GetMessage, PlusTurnedIntoSpace) {
  std::string value = replace_all(b64(kDer), "+", " ");
  auto der = decode_get_message(value);
  ASSERT_OK(der);
  EXPECT_EQ(*der, kDer);
  // Also when the space itself arrived escaped.
  der = decode_get_message(replace_all(b64(kDer), "+", "%20"));
  ASSERT_OK(der);
  EXPECT_EQ(*der, kDer);
}

TEST(GetMessage, MissingPadding) {
  for (std::string_view der : {std::string_view(kDer), std::string_view(kDer).substr(0, 11),
                               std::string_view(kDer).substr(0, 10)}) {
    std::string value = b64(der);
    while (!value.empty() && value.back() == '=') value.pop_back();
    auto got = decode_get_message(value);
    ASSERT_OK(got);
    EXPECT_EQ(*got, der);
  }
}

TEST(GetMessage, UrlSafeAlphabet) {
  std::string value = replace_all(replace_all(b64(kDer), "+", "-"), "/", "_");
  auto der = decode_get_message(value);
  ASSERT_OK(der);
  EXPECT_EQ(*der, kDer);
}

TEST(GetMessage, EncodeRoundTrips) {
  std::string value = encode_get_message(kDer);
  EXPECT_EQ(value.find_first_of("+/="), std::string::npos);
  auto der = decode_get_message(value);
  ASSERT_OK(der);
  EXPECT_EQ(*der, kDer);
}

TEST(GetMessage, RejectsWhatIsNotBase64) {
  for (std::string_view bad :
       {"", "%0A%0A", "====", "QUJD!", "QU=JD", "Q", "QUJDR", "%4", "%zz", "QUJD%", "QUJD\x80"}) {
    EXPECT_CODE(decode_get_message(bad), Code::kInvalidArgument) << "input: " << bad;
  }
}

}  // namespace
}  // namespace scepter::scep
