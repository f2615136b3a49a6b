#include "store/faulty_store.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/memory/memory_store.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::one_cert;

TEST(FaultyStore, FailsTheNextWritesThenForwards) {
  FaultyStore store(std::make_unique<MemoryStore>());
  store.fail_next_writes(2);
  EXPECT_CODE(store.write(one_cert(1)), Code::kUnavailable);
  EXPECT_CODE(store.write(one_cert(1)), Code::kUnavailable);
  EXPECT_CODE(store.certificate(1), Code::kNotFound);  // nothing reached the base
  ASSERT_OK(store.write(one_cert(1)));
  ASSERT_OK(store.certificate(1));
  EXPECT_EQ(store.failed_writes(), 2u);
}

TEST(FaultyStore, CustomStatusAndFailAll) {
  MemoryStore base;
  FaultyStore store(base);
  store.fail_all_writes(permission_denied("locked"));
  for (int i = 0; i < 3; ++i) EXPECT_CODE(store.write(one_cert(1)), Code::kPermissionDenied);
  store.heal();
  ASSERT_OK(store.write(one_cert(1)));
  ASSERT_OK(base.certificate(1));
}

TEST(FaultyStore, FailsReads) {
  FaultyStore store(std::make_unique<MemoryStore>());
  ASSERT_OK(store.write(one_cert(1)));
  store.fail_all_reads();
  EXPECT_CODE(store.certificate(1), Code::kUnavailable);
  EXPECT_CODE(store.meta("x"), Code::kUnavailable);
  EXPECT_CODE(store.certificate_count(), Code::kUnavailable);
  EXPECT_CODE(store.requests(), Code::kUnavailable);
  EXPECT_CODE(store.request(1), Code::kUnavailable);
  EXPECT_CODE(store.request_by_transaction("t"), Code::kUnavailable);
  EXPECT_CODE(store.for_each_certificate([](const CertRecord&) { return true; }),
              Code::kUnavailable);
  EXPECT_CODE(store.for_each_revocation([](const Revocation&) {}), Code::kUnavailable);
  ASSERT_OK(store.write(one_cert(2)));  // writes still go through
  store.heal();
  EXPECT_EQ(store.certificate_count().value_or(0), 2u);
}

}  // namespace
}  // namespace scepter::store
