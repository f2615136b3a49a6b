#pragma once
// gtest helpers for Status and Result<T> (LevelDB's ASSERT_OK).

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::testing {
// A file of the source tree, e.g. source_path("tests/keys/rsa-2048-a.pem"): fixed test
// data made by committed scripts.
inline std::string source_path(std::string_view relative) {
  return std::string(SCEPTER_SOURCE_DIR) + "/" + std::string(relative);
}

inline const Status& status_of(const Status& s) { return s; }
template <class T>
Status status_of(const Result<T>& r) {
  return r.has_value() ? Status() : r.error();
}
}  // namespace scepter::testing

#define ASSERT_OK(expr)                                 \
  ASSERT_TRUE(::scepter::testing::status_of(expr).ok()) \
      << ::scepter::testing::status_of(expr).to_string()
#define EXPECT_OK(expr)                                 \
  EXPECT_TRUE(::scepter::testing::status_of(expr).ok()) \
      << ::scepter::testing::status_of(expr).to_string()
#define EXPECT_CODE(expr, want)                               \
  EXPECT_EQ(::scepter::testing::status_of(expr).code(), want) \
      << ::scepter::testing::status_of(expr).to_string()
