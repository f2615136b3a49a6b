#include "store/faulty_store.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/testing.h"
#include "store/memory/memory_store.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::make_request;
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
  EXPECT_CODE(store.last_serial(), Code::kUnavailable);
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

TEST(FaultyStore, ForwardsAndFailsAcmeRecords) {
  FaultyStore store(std::make_unique<MemoryStore>());
  AcmeRecord order;
  order.kind = AcmeKind::kOrder;
  order.id = "o1";
  order.owner = "a1";
  order.expires = from_unix(100);
  WriteBatch b;
  b.put_acme(order);
  ASSERT_OK(store.write(b));
  EXPECT_EQ(store.acme(AcmeKind::kOrder, "o1").value_or(AcmeRecord{}).version, 1);
  EXPECT_EQ(
      store.acme_by_owner(AcmeKind::kOrder, "a1", 10).value_or(std::vector<AcmeRecord>()).size(),
      1u);
  EXPECT_EQ(store.count_acme(AcmeKind::kOrder).value_or(0), 1u);
  int seen = 0;
  ASSERT_OK(store.for_each_acme(AcmeKind::kOrder, [&](const AcmeRecord&) { return ++seen > 0; }));
  EXPECT_EQ(seen, 1);

  store.fail_all_reads();
  EXPECT_CODE(store.acme(AcmeKind::kOrder, "o1"), Code::kUnavailable);
  EXPECT_CODE(store.acme_by_owner(AcmeKind::kOrder, "a1", 10), Code::kUnavailable);
  EXPECT_CODE(store.count_acme(AcmeKind::kOrder), Code::kUnavailable);
  EXPECT_CODE(store.for_each_acme(AcmeKind::kOrder, [](const AcmeRecord&) { return true; }),
              Code::kUnavailable);
  store.heal();
  store.fail_next_writes(1);
  EXPECT_CODE(store.delete_acme_expired(from_unix(200)), Code::kUnavailable);
  EXPECT_OK(store.acme(AcmeKind::kOrder, "o1"));  // nothing reached the base
  EXPECT_EQ(store.delete_acme_expired(from_unix(200)).value_or(0), 1u);
  EXPECT_CODE(store.acme(AcmeKind::kOrder, "o1"), Code::kNotFound);
}

TEST(FaultyStore, FailsRequestReads) {
  FaultyStore store(std::make_unique<MemoryStore>());
  WriteBatch b;
  b.put_request(make_request(1));
  ASSERT_OK(store.write(b));
  store.fail_all_reads(unavailable("db down"));
  EXPECT_CODE(store.requests_page(0, 10), Code::kUnavailable);
  EXPECT_CODE(store.count_requests({}), Code::kUnavailable);
  int visited = 0;
  EXPECT_CODE(store.for_each_request([&](const RequestRecord&) { return ++visited > 0; }),
              Code::kUnavailable);
  EXPECT_EQ(visited, 0);
  ASSERT_OK(store.allocate_serial());  // allocations are not reads
  store.heal();
  EXPECT_EQ(store.requests_page(0, 10)->size(), 1u);
  EXPECT_EQ(store.count_requests({RequestState::kPending}).value_or(0), 1u);
  ASSERT_OK(store.for_each_request([&](const RequestRecord&) { return ++visited > 0; }));
  EXPECT_EQ(visited, 1);
}

TEST(FaultyStore, ExpiryIsAWrite) {
  MemoryStore base;
  FaultyStore store(base);
  WriteBatch b;
  b.put_request(make_request(1));  // created 1'700'000'001
  ASSERT_OK(store.write(b));
  store.fail_next_writes(1);
  EXPECT_CODE(store.delete_requests_created_before(from_unix(2'000'000'000)), Code::kUnavailable);
  EXPECT_EQ(store.failed_writes(), 1u);
  ASSERT_OK(base.request(1));  // nothing reached the base
  EXPECT_EQ(store.delete_requests_created_before(from_unix(2'000'000'000)).value_or(0), 1u);
  store.fail_all_writes();
  EXPECT_CODE(store.delete_requests_created_before(from_unix(1)), Code::kUnavailable);
  EXPECT_EQ(store.failed_writes(), 2u);
}

TEST(FaultyStore, FailsAllocationsUntilHealed) {
  MemoryStore base;
  FaultyStore store(base);
  EXPECT_EQ(store.allocate_serial().value_or(0), 2u);
  EXPECT_EQ(store.next_request_id().value_or(0), 1);
  store.fail_all_allocations(unavailable("sequence unreachable"));
  EXPECT_CODE(store.allocate_serial(), Code::kUnavailable);
  EXPECT_CODE(store.next_request_id(), Code::kUnavailable);
  ASSERT_OK(store.write(one_cert(9)));  // writes and reads still go through
  ASSERT_OK(store.certificate(9));
  EXPECT_EQ(store.failed_writes(), 0u);
  store.heal();
  EXPECT_EQ(store.allocate_serial().value_or(0), 10u);  // the base's counter, untouched
  EXPECT_EQ(store.next_request_id().value_or(0), 2);
}

TEST(FaultyStore, ForwardsDeleteMetaIf) {
  FaultyStore store(std::make_unique<MemoryStore>());
  WriteBatch set;
  set.put_meta("otp", "x");
  ASSERT_OK(store.write(set));
  WriteBatch use;
  use.delete_meta_if("otp", "x");
  store.fail_next_writes(1);
  EXPECT_CODE(store.write(use), Code::kUnavailable);
  EXPECT_EQ(store.meta("otp")->value_or(""), "x");  // still there: the failure came first
  ASSERT_OK(store.write(use));
  EXPECT_CODE(store.write(use), Code::kNotFound);
}

}  // namespace
}  // namespace scepter::store
