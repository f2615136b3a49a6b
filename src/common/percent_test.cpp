#include "common/percent.h"

#include <string>

#include <gtest/gtest.h>

namespace scepter {
namespace {

TEST(Percent, EncodeKeepsOnlyUnreservedBytes) {
  EXPECT_EQ(percent_encode("Az09-._~"), "Az09-._~");
  EXPECT_EQ(percent_encode("p@ss:w/rd%"), "p%40ss%3Aw%2Frd%25");
  EXPECT_EQ(percent_encode(std::string("\0\xff ", 3)), "%00%FF%20");
  EXPECT_EQ(percent_encode(""), "");
}

TEST(Percent, DecodeUndoesEncodeForAnyBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(percent_decode(percent_encode(all)), all);
}

TEST(Percent, DecodeIsTolerant) {
  EXPECT_EQ(percent_decode("%41%4a%4A"), "AJJ");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("%zz+%"), "%zz+%");
}

}  // namespace
}  // namespace scepter
