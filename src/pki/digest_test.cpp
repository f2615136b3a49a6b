#include "pki/digest.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/encoding.h"

namespace scepter::pki {
namespace {

TEST(Hash, ParseAndName) {
  for (Hash h : {Hash::kMd5, Hash::kSha1, Hash::kSha256, Hash::kSha384, Hash::kSha512}) {
    auto back = parse_hash(hash_name(h));
    ASSERT_OK(back);
    EXPECT_EQ(*back, h);
    EXPECT_NE(evp_md(h), nullptr);
  }
  EXPECT_EQ(*parse_hash("SHA256"), Hash::kSha256);
  EXPECT_EQ(*parse_hash("sha-384"), Hash::kSha384);
  EXPECT_EQ(hash_name(Hash::kSha256), "sha256");
  EXPECT_CODE(parse_hash("sha3"), Code::kInvalidArgument);
  EXPECT_CODE(parse_hash(""), Code::kInvalidArgument);
}

TEST(Digest, KnownVectors) {
  EXPECT_EQ(md5_hex("abc"), "900150983CD24FB0D6963F7D28E17F72");
  EXPECT_EQ(hex_upper(digest(Hash::kSha1, "abc")), "A9993E364706816ABA3E25717850C26C9CD0D89D");
  EXPECT_EQ(hex_upper(digest(Hash::kSha256, "abc")),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  EXPECT_EQ(digest(Hash::kSha384, "").size(), 48u);
  EXPECT_EQ(digest(Hash::kSha512, "").size(), 64u);
}

TEST(Digest, IosFingerprint) {
  EXPECT_EQ(ios_fingerprint("CF2C23D1560F25DB22E9D10FE595A6D6"),
            "CF2C23D1 560F25DB 22E9D10F E595A6D6");
  EXPECT_EQ(ios_fingerprint(""), "");
  EXPECT_EQ(ios_fingerprint("0123456789"), "01234567 89");
}

}  // namespace
}  // namespace scepter::pki
