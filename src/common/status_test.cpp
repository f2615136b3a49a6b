#include "common/status.h"

#include "common/testing.h"

namespace scepter {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(invalid_argument("not positive"));
  return v;
}

Result<int> doubled(int v) {
  ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check(int v) {
  RETURN_IF_ERROR(v > 0 ? ok_status() : not_found("missing"));
  return ok_status();
}

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = not_found("no serial 5");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.to_string(), "NotFound: no serial 5");
}

TEST(Result, AssignOrReturnPropagates) {
  EXPECT_EQ(*doubled(4), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
}

TEST(Result, ReturnIfError) {
  EXPECT_OK(check(1));
  EXPECT_CODE(check(0), Code::kNotFound);
}

}  // namespace
}  // namespace scepter
