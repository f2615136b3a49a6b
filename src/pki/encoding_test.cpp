#include "pki/encoding.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

std::string bytes_0_to(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(i * 37 + 11));
  return s;
}

TEST(Base64, RoundTripsEveryLength) {
  for (int n = 0; n < 200; ++n) {
    const std::string data = bytes_0_to(n);
    for (std::size_t width : {std::size_t{0}, std::size_t{64}, std::size_t{76}}) {
      auto back = base64_decode(base64_encode(data, width));
      ASSERT_OK(back);
      EXPECT_EQ(*back, data) << n << " " << width;
    }
  }
}

TEST(Base64, KnownVectors) {
  EXPECT_EQ(base64_encode("", 0), "");
  EXPECT_EQ(base64_encode("f", 0), "Zg==");
  EXPECT_EQ(base64_encode("fo", 0), "Zm8=");
  EXPECT_EQ(base64_encode("foo", 0), "Zm9v");
  EXPECT_EQ(base64_encode("foobar", 0), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("foobar", 4), "Zm9v\nYmFy\n");
  EXPECT_EQ(base64_encode("fooba", 4), "Zm9v\nYmE=\n");
}

TEST(Base64, MatchesOpensslCli) {
  test::TempDir dir;
  const std::string data = bytes_0_to(150);
  dir.write("in.bin", data);
  auto out = test::run("openssl base64 -in " + dir.file("in.bin"));
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_EQ(base64_encode(data, 64), out.text);
}

TEST(Base64, DecodeIsTolerant) {
  EXPECT_EQ(*base64_decode("Zm9v\r\nYmFy\n"), "foobar");
  EXPECT_EQ(*base64_decode("  Zm 9v Ym\tFy  "), "foobar");
  EXPECT_EQ(*base64_decode("Zg"), "f");   // padding missing
  EXPECT_EQ(*base64_decode("Zg="), "f");  // padding short
  EXPECT_EQ(*base64_decode("Zm8"), "fo");
  EXPECT_EQ(*base64_decode(""), "");
  EXPECT_EQ(*base64_decode("\n \n"), "");
  // URL-safe alphabet: 0xFB 0xFF encodes as "+/8=" or "-_8".
  EXPECT_EQ(*base64_decode("-_8"), "\xFB\xFF");
  EXPECT_EQ(*base64_decode("+/8="), "\xFB\xFF");
}

TEST(Base64, DecodeRejectsGarbage) {
  EXPECT_CODE(base64_decode("Zm9v!"), Code::kInvalidArgument);
  EXPECT_CODE(base64_decode("Zg==Zg=="), Code::kInvalidArgument);  // data after padding
  EXPECT_CODE(base64_decode("Zg==="), Code::kInvalidArgument);     // too much padding
  EXPECT_CODE(base64_decode("Zm9v="), Code::kInvalidArgument);     // padding on a full quantum
  EXPECT_CODE(base64_decode("Zm9vY"), Code::kInvalidArgument);     // 1 char of a quantum
  EXPECT_CODE(base64_decode(std::string("Zm\0v", 4)), Code::kInvalidArgument);
  EXPECT_CODE(base64_decode("\xC3\xA9t\xC3\xA9"), Code::kInvalidArgument);
}

TEST(Base64url, RoundTripsEveryLength) {
  for (int n = 0; n < 200; ++n) {
    const std::string data = bytes_0_to(n);
    const std::string text = base64url_encode(data);
    EXPECT_EQ(text.find_first_of("+/=\n"), std::string::npos) << text;
    auto back = base64url_decode(text);
    ASSERT_OK(back);
    EXPECT_EQ(*back, data) << n;
  }
}

TEST(Base64url, KnownVectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("\xFB\xFF"), "-_8");
  // RFC 7515 appendix C.
  EXPECT_EQ(base64url_encode(std::string("\x03\xEC\xFF\xE0\xC1\x7F", 6)), "A-z_4MF_");
  EXPECT_EQ(*base64url_decode("A-z_4MF_"), std::string("\x03\xEC\xFF\xE0\xC1\x7F", 6));
  EXPECT_EQ(*base64url_decode(""), "");
  EXPECT_EQ(*base64url_decode("Zg"), "f");
  EXPECT_EQ(*base64url_decode("Zm8"), "fo");
}

TEST(Base64url, DecodeIsStrict) {
  EXPECT_CODE(base64url_decode("Zg=="), Code::kInvalidArgument);     // padding
  EXPECT_CODE(base64url_decode("Zg="), Code::kInvalidArgument);      // padding
  EXPECT_CODE(base64url_decode("+/8"), Code::kInvalidArgument);      // standard alphabet
  EXPECT_CODE(base64url_decode("Zm9v Ym"), Code::kInvalidArgument);  // whitespace
  EXPECT_CODE(base64url_decode("Zm9v\n"), Code::kInvalidArgument);
  EXPECT_CODE(base64url_decode("Zm9vY"), Code::kInvalidArgument);  // length 1 mod 4
  EXPECT_CODE(base64url_decode("Z"), Code::kInvalidArgument);
  EXPECT_CODE(base64url_decode("Zh"), Code::kInvalidArgument);   // "f" with a stray low bit
  EXPECT_CODE(base64url_decode("Zm9"), Code::kInvalidArgument);  // "fo" with a stray low bit
  EXPECT_CODE(base64url_decode(std::string("Zm\0v", 4)), Code::kInvalidArgument);
  EXPECT_CODE(base64url_decode("\xC3\xA9t\xC3\xA9"), Code::kInvalidArgument);
  // The tolerant decoder still takes non-canonical trailing bits.
  EXPECT_EQ(*base64_decode("Zh"), "f");
}

TEST(Pem, RoundTrip) {
  const std::string der = bytes_0_to(100);
  const std::string pem = pem_encode("CERTIFICATE", der);
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
  EXPECT_NE(pem.find("\n-----END CERTIFICATE-----\n"), std::string::npos);
  auto back = pem_decode(pem, "CERTIFICATE");
  ASSERT_OK(back);
  EXPECT_EQ(*back, der);
}

TEST(Pem, FindsTheBlockAmongOtherText) {
  const std::string der = bytes_0_to(70);
  const std::string text = "Bag Attributes\n    friendlyName: x\n" +
                           pem_encode("PRIVATE KEY", "k") + "\r\n   " +
                           pem_encode("NEW CERTIFICATE REQUEST", der) + "trailer\n";
  auto back = pem_decode(text, "CERTIFICATE REQUEST");
  ASSERT_OK(back);
  EXPECT_EQ(*back, der);
}

TEST(Pem, AcceptsCrLfAndIndentation) {
  const std::string der = bytes_0_to(90);
  std::string pem = pem_encode("CERTIFICATE", der);
  std::string crlf;
  for (char c : pem) {
    if (c == '\n')
      crlf += "\r\n  ";
    else
      crlf.push_back(c);
  }
  auto back = pem_decode(crlf, "CERTIFICATE");
  ASSERT_OK(back);
  EXPECT_EQ(*back, der);
}

TEST(Pem, WrongLabelNamesWhatWasFound) {
  auto r = pem_decode(pem_encode("CERTIFICATE", "abc"), "CERTIFICATE REQUEST");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("found CERTIFICATE"), std::string::npos)
      << r.error().message();
}

TEST(Pem, RejectsBadBlocks) {
  EXPECT_CODE(pem_decode("", "CERTIFICATE"), Code::kInvalidArgument);
  EXPECT_CODE(pem_decode("-----BEGIN CERTIFICATE-----\nZm9v\n", "CERTIFICATE"),
              Code::kInvalidArgument);  // no END
  EXPECT_CODE(
      pem_decode("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "CERTIFICATE"),
      Code::kInvalidArgument);
  EXPECT_CODE(pem_decode("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "CERTIFICATE"),
              Code::kInvalidArgument);  // empty body
  EXPECT_CODE(pem_decode("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                         "DEK-Info: DES-CBC,0011223344556677\n\nZm9v\n"
                         "-----END RSA PRIVATE KEY-----\n",
                         "RSA PRIVATE KEY"),
              Code::kInvalidArgument);  // headers
}

TEST(Hex, UpperCase) {
  EXPECT_EQ(hex_upper(""), "");
  EXPECT_EQ(hex_upper(std::string("\x00\x0a\xff\x5c", 4)), "000AFF5C");
}

TEST(DecodeAny, AcceptsDerPemAndBase64) {
  const std::string der = "\x30\x03\x02\x01\x05";
  EXPECT_EQ(*decode_any(der, "X"), der);
  EXPECT_EQ(*decode_any(pem_encode("X", der), "X"), der);
  EXPECT_EQ(*decode_any(base64_encode(der, 4), "X"), der);
  EXPECT_EQ(*decode_any("\n" + base64_encode(der, 0) + "\n", "X"), der);
}

TEST(DecodeAny, RejectsEmptyAndGarbage) {
  EXPECT_CODE(decode_any("", "X"), Code::kInvalidArgument);
  EXPECT_CODE(decode_any("   \n", "X"), Code::kInvalidArgument);
  EXPECT_CODE(decode_any("hello, world", "X"), Code::kInvalidArgument);
  EXPECT_CODE(decode_any(pem_encode("Y", "abc"), "X"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::pki
