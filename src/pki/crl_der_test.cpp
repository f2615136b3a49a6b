// The DER we write by hand, checked against OpenSSL: identifier + length octets against
// ASN1_put_object / ASN1_get_object at every length boundary, and Time values against
// i2d_ASN1_TIME of ASN1_TIME_set / ASN1_TIME_adj, byte for byte.

#include "pki/crl_der.h"

#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/asn1.h>

#include "common/testing.h"
#include "pki/ptr.h"

namespace scepter::pki::der {
namespace {

std::string put(unsigned char identifier, std::size_t len) {
  char buf[kMaxHeaderSize];
  return std::string(buf, put_header(identifier, len, buf));
}

TEST(DerHeader, KnownEncodings) {
  EXPECT_EQ(put(kSequence, 0), std::string("\x30\x00", 2));
  EXPECT_EQ(put(kSequence, 127), "\x30\x7f");
  EXPECT_EQ(put(kSequence, 128), "\x30\x81\x80");
  EXPECT_EQ(put(kSequence, 255), "\x30\x81\xff");
  EXPECT_EQ(put(kSequence, 256), std::string("\x30\x82\x01\x00", 4));
  EXPECT_EQ(put(kContext0, 65535), "\xa0\x82\xff\xff");
  EXPECT_EQ(put(kBitString, 65536), std::string("\x03\x83\x01\x00\x00", 5));
  EXPECT_EQ(put(kSequence, 24000000), std::string("\x30\x84\x01\x6e\x36\x00", 6));
  EXPECT_EQ(put(kSequence, 0x100000000ull), std::string("\x30\x85\x01\x00\x00\x00\x00", 7));
  EXPECT_EQ(put(kSequence, SIZE_MAX), "\x30\x88\xff\xff\xff\xff\xff\xff\xff\xff");
  EXPECT_EQ(header_size(SIZE_MAX), kMaxHeaderSize);
}

TEST(DerHeader, MatchesOpenSsl) {
  std::vector<std::size_t> lengths;
  for (std::size_t bits = 0; bits < 31; ++bits) {
    const std::size_t v = std::size_t{1} << bits;
    for (std::size_t l : {v - 1, v, v + 1}) lengths.push_back(l);
  }
  for (std::size_t len : lengths) {
    if (len > INT_MAX - 16) continue;
    for (const auto& [identifier, constructed, tag, cls] :
         {std::tuple{kSequence, 1, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL},
          std::tuple{kContext0, 1, 0, V_ASN1_CONTEXT_SPECIFIC},
          std::tuple{kBitString, 0, V_ASN1_BIT_STRING, V_ASN1_UNIVERSAL}}) {
      unsigned char want[16];
      unsigned char* p = want;
      ASN1_put_object(&p, constructed, static_cast<int>(len), tag, cls);
      const std::string ours = put(identifier, len);
      EXPECT_EQ(ours, std::string(reinterpret_cast<char*>(want), p - want)) << len;
      EXPECT_EQ(header_size(len), ours.size()) << len;
      EXPECT_EQ(static_cast<int>(ours.size() + len),
                ASN1_object_size(constructed, static_cast<int>(len), tag))
          << len;
    }
  }
}

TEST(DerHeader, ReadBackWithOurReader) {
  for (std::size_t len : {0, 1, 127, 128, 255, 256, 1000, 70000}) {
    std::string tlv;
    append_framed(tlv, kSequence, std::string(len, 'x'));
    std::string_view in = tlv;
    Result<Tlv> t = read_tlv(in, "test");
    ASSERT_OK(t);
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(t->tag, V_ASN1_SEQUENCE);
    EXPECT_TRUE(t->constructed);
    EXPECT_EQ(t->content.size(), len);
    EXPECT_EQ(t->whole.size(), tlv.size());
  }
}

TEST(DerReader, RejectsNonDer) {
  const std::vector<std::string> bad = {
      "",
      std::string("\x30", 1),                                       // no length
      std::string("\x30\x02\x00", 3),                               // truncated content
      std::string("\x30\x81\x05\x00\x00\x00\x00\x00", 8),           // long form for a short length
      std::string("\x30\x82\x00\x80", 4) + std::string(128, '\0'),  // leading zero octet
      std::string("\x30\x80\x00\x00", 4),                           // indefinite length (BER only)
      std::string("\x30\x84\xff\xff\xff\xff", 6),                   // longer than the buffer
      std::string("\x30\x89\x01\x00\x00\x00\x00\x00\x00\x00\x00", 11),  // > 64-bit length
  };
  for (const std::string& b : bad) {
    std::string_view in = b;
    EXPECT_CODE(read_tlv(in, "test"), Code::kInvalidArgument) << ::testing::PrintToString(b);
  }
}

TEST(DerValues, SerialsAndTimes) {
  EXPECT_EQ(encode_serial(0), std::string("\x02\x01\x00", 3));
  EXPECT_EQ(encode_serial(2), std::string("\x02\x01\x02", 3));
  EXPECT_EQ(encode_serial(0x80), std::string("\x02\x02\x00\x80", 4));
  EXPECT_EQ(encode_serial(~0ull), std::string("\x02\x09\x00\xff\xff\xff\xff\xff\xff\xff\xff", 11));
  Result<std::string> t = encode_time(from_unix(0));
  ASSERT_OK(t);
  EXPECT_EQ(*t,
            "\x17\x0d"
            "700101000000Z");
  t = encode_time(from_unix(-631152001));  // 1949-12-31 23:59:59
  ASSERT_OK(t);
  EXPECT_EQ(*t,
            "\x18\x0f"
            "19491231235959Z");
  for (std::int64_t s : {0ll, -631152001ll, 2524607999ll, 2524608000ll, 253402300799ll}) {
    Result<std::string> enc = encode_time(from_unix(s));
    ASSERT_OK(enc);
    Result<TimePoint> dec = decode_time(*enc);
    ASSERT_OK(dec);
    EXPECT_EQ(to_unix(*dec), s);
  }
  EXPECT_CODE(encode_time(from_unix(253402300800)), Code::kInvalidArgument);  // year 10000
  EXPECT_CODE(encode_time(from_unix(-62167219201)), Code::kInvalidArgument);  // year -1
  EXPECT_OK(encode_time(from_unix(-62167219200)));                            // year 0
  EXPECT_CODE(decode_time("\x17\x0d"
                          "991399000000Z"),
              Code::kInvalidArgument);
  EXPECT_CODE(decode_time("\x17\x02"
                          "99"),
              Code::kInvalidArgument);
}

// What OpenSSL writes for `s` seconds since the epoch: ASN1_TIME_set, which is
// ASN1_TIME_adj with no offset, picks UTCTime for 1950..2049 and GeneralizedTime otherwise.
std::string openssl_time(std::int64_t s) {
  Ptr<ASN1_STRING> set(ASN1_TIME_set(nullptr, static_cast<time_t>(s)));
  Ptr<ASN1_STRING> adj(ASN1_TIME_adj(nullptr, static_cast<time_t>(s), 0, 0));
  if (!set || !adj) return "ASN1_TIME_set failed";
  unsigned char buf[64];
  unsigned char* p = buf;
  const int n = i2d_ASN1_TIME(set.get(), &p);
  if (n <= 0) return "i2d_ASN1_TIME failed";
  const std::string out(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
  p = buf;
  if (i2d_ASN1_TIME(adj.get(), &p) != n ||
      std::memcmp(buf, out.data(), static_cast<std::size_t>(n)) != 0) {
    return "ASN1_TIME_set and ASN1_TIME_adj disagree";
  }
  return out;
}

std::string ours(std::int64_t s) {
  char buf[kMaxTimeSize];
  return std::string(buf, put_time(from_unix(s), buf));
}

std::int64_t at(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int sec = 0) {
  using namespace std::chrono;
  const sys_days day = year{y} / month{mo} / std::chrono::day{d};
  return to_unix(TimePoint(duration_cast<Seconds>(day.time_since_epoch()) + hours{h} + minutes{mi} +
                           Seconds{sec}));
}

TEST(DerTime, KnownEncodings) {
  EXPECT_EQ(ours(0),
            "\x17\x0d"
            "700101000000Z");
  EXPECT_EQ(ours(at(1950, 1, 1)),
            "\x17\x0d"
            "500101000000Z");
  EXPECT_EQ(ours(at(1949, 12, 31, 23, 59, 59)),
            "\x18\x0f"
            "19491231235959Z");
  EXPECT_EQ(ours(at(2000, 2, 29, 12, 34, 56)),
            "\x17\x0d"
            "000229123456Z");
  EXPECT_EQ(ours(at(2049, 12, 31, 23, 59, 59)),
            "\x17\x0d"
            "491231235959Z");
  EXPECT_EQ(ours(at(2050, 1, 1)),
            "\x18\x0f"
            "20500101000000Z");
  EXPECT_EQ(ours(at(9999, 12, 31, 23, 59, 59)),
            "\x18\x0f"
            "99991231235959Z");
  EXPECT_EQ(ours(at(0, 1, 1)),
            "\x18\x0f"
            "00000101000000Z");
  EXPECT_EQ(at(1999, 12, 31, 23, 59, 59), 946684799);
  EXPECT_EQ(at(2050, 1, 1), 2524608000);
  EXPECT_EQ(at(9999, 12, 31, 23, 59, 59), 253402300799);
}

TEST(DerTime, MatchesOpenSslAtBoundaries) {
  std::vector<std::int64_t> times = {
      0,
      -1,
      at(1950, 1, 1),
      at(1950, 1, 1) - 1,
      at(1999, 12, 31, 23, 59, 59),
      at(2000, 1, 1),
      at(2000, 2, 29),
      at(2000, 2, 29, 23, 59, 59),
      at(2000, 3, 1),
      at(2038, 1, 19, 3, 14, 7),  // 2^31 - 1
      at(2038, 1, 19, 3, 14, 8),
      at(2049, 12, 31, 23, 59, 59),
      at(2050, 1, 1),
      at(2100, 2, 28, 23, 59, 59),  // 2100 is not a leap year
      at(2100, 3, 1),
      at(2400, 2, 29),  // 2400 is
      at(9999, 12, 31, 23, 59, 59),
      at(0, 1, 1),
      at(1900, 3, 1) - 1,
      at(1969, 12, 31, 23, 59, 59),
      1735995514,  // 2025-01-04 12:58:34
  };
  // Every day, at its first and last second, through four leap-year cycles around each
  // century boundary that matters: 1900 (not leap), 2000 (leap), 2100 (not leap), 2400 (leap).
  for (int century : {1900, 2000, 2100, 2400}) {
    for (std::int64_t d = at(century - 4, 1, 1); d < at(century + 5, 1, 1); d += 86400) {
      times.push_back(d);
      times.push_back(d + 86399);
    }
  }
  for (std::int64_t s : times) {
    SCOPED_TRACE(s);
    const std::string want = openssl_time(s);
    ASSERT_EQ(ours(s), want);
    Result<std::string> enc = encode_time(from_unix(s));
    ASSERT_OK(enc);
    EXPECT_EQ(*enc, want);
    Result<TimePoint> dec = decode_time(*enc);
    ASSERT_OK(dec);
    EXPECT_EQ(to_unix(*dec), s);
  }
}

TEST(DerTime, MatchesOpenSslAtRandomTimes) {
  std::mt19937_64 rng(20250104);
  const auto check_range = [&](std::int64_t lo, std::int64_t hi, int count) -> int {
    std::uniform_int_distribution<std::int64_t> dist(lo, hi);
    int utc = 0;
    for (int i = 0; i < count; ++i) {
      const std::int64_t s = dist(rng);
      const std::string want = openssl_time(s);
      if (ours(s) != want) {
        ADD_FAILURE() << s << ": " << ::testing::PrintToString(ours(s))
                      << " != " << ::testing::PrintToString(want);
        return -1;
      }
      if (want[0] == '\x17') ++utc;
    }
    return utc;
  };
  // 1950..9999, as the entries and update times of a real CRL can be; about 1 in 80 of these
  // is in the UTCTime range, so that range gets 10,000 of its own.
  EXPECT_GT(check_range(at(1950, 1, 1), at(9999, 12, 31, 23, 59, 59), 10000), 0);
  EXPECT_EQ(check_range(at(1950, 1, 1), at(2049, 12, 31, 23, 59, 59), 10000), 10000);
  EXPECT_EQ(check_range(at(0, 1, 1), at(1949, 12, 31, 23, 59, 59), 2000), 0);
}

TEST(DerTime, RejectsYearsOutsideZeroTo9999) {
  for (std::int64_t s :
       {at(9999, 12, 31, 23, 59, 59) + 1, at(0, 1, 1) - 1, std::int64_t{400000000000},
        std::int64_t{-400000000000}, INT64_MAX, INT64_MIN}) {
    SCOPED_TRACE(s);
    char buf[kMaxTimeSize];
    std::memset(buf, 'x', sizeof buf);
    EXPECT_EQ(put_time(from_unix(s), buf), 0u);
    EXPECT_EQ(std::string(buf, sizeof buf), std::string(sizeof buf, 'x'));  // nothing written
    EXPECT_FALSE(time_in_range(from_unix(s)));
    EXPECT_CODE(encode_time(from_unix(s)), Code::kInvalidArgument);
  }
}

TEST(DerEntries, SerialRange) {
  const std::string time =
      "\x17\x0d"
      "250104125834Z";
  auto entry = [&](const std::string& serial) {
    std::string e;
    append_framed(e, kSequence, serial + time);
    return e;
  };
  std::string ok = entry(encode_serial(~0ull));
  std::string_view in = ok;
  RawEntry e;
  ASSERT_OK(read_entry(in, e));
  EXPECT_EQ(e.serial, SerialNumber{~0ull});
  EXPECT_EQ(e.time, time);
  // 2^64 and above: a sequence number followed by 64 bits of entropy, up to 2^128 - 1.
  for (const auto& [serial, want] : {
           std::pair{std::string("\x02\x09\x01\x00\x00\x00\x00\x00\x00\x00\x07", 11),
                     SerialNumber{1, 7}},
           std::pair{std::string("\x02\x11\x00", 3) + std::string(16, '\xff'),
                     SerialNumber{~0ull, ~0ull}},
       }) {
    std::string big = entry(serial);
    std::string_view rest = big;
    ASSERT_OK(read_entry(rest, e));
    EXPECT_EQ(e.serial, want);
    EXPECT_EQ(want.der(), serial);
  }
  EXPECT_FALSE(e.has_extensions);
  EXPECT_TRUE(in.empty());
  for (const std::string& serial : {
           std::string("\x02\x01\xff", 3),                       // negative
           std::string("\x02\x02\x00\x01", 4),                   // padded
           std::string("\x02\x11\x01") + std::string(16, '\0'),  // 2^128
           std::string("\x02\x00", 2),                           // empty
           std::string("\x04\x01\x01", 3),                       // not INTEGER
       }) {
    std::string bad = entry(serial);
    std::string_view view = bad;
    EXPECT_CODE(read_entry(view, e), Code::kInvalidArgument) << ::testing::PrintToString(serial);
  }
}

}  // namespace
}  // namespace scepter::pki::der
