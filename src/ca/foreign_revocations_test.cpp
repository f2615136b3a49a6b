// The text form of the revocations a moved CA brings with it (meta foreign_revocations).
#include <gtest/gtest.h>

#include "ca/crl_publisher.h"
#include "common/testing.h"

namespace scepter::ca {
namespace {

TEST(ForeignRevocations, RoundTrip) {
  const TimePoint at(std::chrono::seconds(1790000000));
  std::vector<pki::CrlInfo::Entry> entries = {
      {pki::SerialNumber{3}, at, std::nullopt},
      {pki::SerialNumber{0x1A7, std::uint64_t{0xDEADBEEFCAFEF00D}}, at + std::chrono::hours(1),
       std::nullopt}};
  const std::string text = format_foreign_revocations(entries);
  EXPECT_EQ(text, "3 - 1790000000\n423 " + std::to_string(0xDEADBEEFCAFEF00DULL) + " 1790003600\n");
  auto back = parse_foreign_revocations(text);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].serial.sequence, 3u);
  EXPECT_FALSE((*back)[0].serial.entropy.has_value());
  EXPECT_EQ((*back)[1].serial.entropy, std::uint64_t{0xDEADBEEFCAFEF00D});
  EXPECT_EQ((*back)[1].revoked_at, at + std::chrono::hours(1));
  EXPECT_TRUE(parse_foreign_revocations("").has_value());
}

TEST(ForeignRevocations, CorruptTextIsRefused) {
  for (const char* bad : {"3", "3 -", "x - 1", "3 y 1", "3 - z"}) {
    EXPECT_CODE(parse_foreign_revocations(bad), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace scepter::ca
