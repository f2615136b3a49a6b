#include "pki/serial_number.h"

#include <set>

#include <gtest/gtest.h>
#include <openssl/bn.h>

#include "common/testing.h"
#include "pki/ptr.h"

namespace scepter::pki {
namespace {

// The value OpenSSL reads from our encoding, in hex.
std::string openssl_hex(const SerialNumber& s) {
  const std::string der = s.der();
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<ASN1_STRING> value(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(der.size())));
  if (!value) return "undecodable";
  Ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(value.get(), nullptr));
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex);
  OPENSSL_free(hex);
  // BN_bn2hex pads to whole bytes; IOS (and hex()) print no leading zero.
  while (out.size() > 1 && out[0] == '0') out.erase(0, 1);
  // Re-encoding must give the same bytes: ours is the one DER encoding.
  unsigned char* re = nullptr;
  const int n = i2d_ASN1_INTEGER(value.get(), &re);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(re), static_cast<std::size_t>(n)), der);
  OPENSSL_free(re);
  return out;
}

TEST(SerialNumber, EncodesSequenceThenEntropy) {
  EXPECT_EQ(SerialNumber{1}.der(), std::string("\x02\x01\x01", 3));
  EXPECT_EQ(SerialNumber{0x80}.der(), std::string("\x02\x02\x00\x80", 4));
  EXPECT_EQ(SerialNumber{0}.hex(), "0");
  EXPECT_EQ(SerialNumber{0x3}.hex(), "3");
  EXPECT_EQ(SerialNumber(0x3, 0x1).hex(), "30000000000000001");
  EXPECT_EQ(SerialNumber(0x3, 0x1).der().size(), 2u + 9u);
  EXPECT_EQ(SerialNumber(~0ull, ~0ull).der().size(), SerialNumber::kMaxDerSize);
  for (const SerialNumber& s : {SerialNumber{1}, SerialNumber{0xFF}, SerialNumber{~0ull},
                                SerialNumber(1, 0), SerialNumber(0x7F, 0x8000000000000000ull),
                                SerialNumber(~0ull, ~0ull), SerialNumber(0x1234, 0xABCDEF)}) {
    EXPECT_EQ(openssl_hex(s), s.hex());
    auto back = SerialNumber::from_der(s.der());
    ASSERT_OK(back);
    EXPECT_EQ(*back, s);
    auto typed = SerialNumber::from_hex(s.hex());
    ASSERT_OK(typed);
    EXPECT_EQ(*typed, s);
  }
}

TEST(SerialNumber, RefusesWhatIsNotOurs) {
  EXPECT_CODE(SerialNumber::from_der(std::string("\x02\x01\xff", 3)), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_der(std::string("\x02\x02\x00\x01", 4)), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_der(std::string("\x02\x00", 2)), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_der(std::string("\x04\x01\x01", 3)), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_der(std::string("\x02\x01\x01\x00", 4)), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_der(std::string("\x02\x11\x01", 3) + std::string(16, '\0')),
              Code::kInvalidArgument);  // 2^128
  EXPECT_CODE(SerialNumber::from_hex(""), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_hex("12G"), Code::kInvalidArgument);
  EXPECT_CODE(SerialNumber::from_hex(std::string(33, '1')), Code::kInvalidArgument);
  // Leading zeros are just zeros.
  EXPECT_EQ(*SerialNumber::from_hex("000000000000000000003"), SerialNumber{3});
}

TEST(SerialNumber, EntropyIsFreshEachTime) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 64; ++i) {
    auto s = SerialNumber::with_entropy(7);
    ASSERT_OK(s);
    EXPECT_EQ(s->sequence, 7u);
    ASSERT_TRUE(s->entropy.has_value());
    seen.insert(*s->entropy);
  }
  EXPECT_EQ(seen.size(), 64u);  // a repeat has probability below 2^-52
}

}  // namespace
}  // namespace scepter::pki
