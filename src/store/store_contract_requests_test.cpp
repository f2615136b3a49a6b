// The Store contract, continued: request expiry, counting, paging and the fields added
// with schema version 2 (CertRecord::predecessor, RequestRecord::reason).

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/store.h"
#include "store/store_contract.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::expect_same;
using testing::make_cert;
using testing::make_request;
using testing::StoreContract;

RequestRecord request_in(RequestId id, RequestState state) {
  RequestRecord r = make_request(id);
  r.state = state;
  return r;
}

std::vector<RequestId> ids_of(const std::vector<RequestRecord>& rs) {
  std::vector<RequestId> out;
  for (const auto& r : rs) out.push_back(r.id);
  return out;
}

TEST_P(StoreContract, PredecessorAndReasonRoundTrip) {
  CertRecord renewed = make_cert(8);
  renewed.predecessor = 3;
  RequestRecord refused = make_request(4, "t4");
  refused.state = RequestState::kDenied;
  refused.reason = std::string("key too short: 512 bits\0!", 25);
  WriteBatch b;
  b.put_certificate(make_cert(3));
  b.put_certificate(renewed);
  b.put_certificate(make_cert(9));
  b.put_request(refused);
  b.put_request(make_request(5));
  ASSERT_OK(store().write(b));
  expect_same(*store().certificate(8), renewed);
  EXPECT_FALSE(store().certificate(9)->predecessor.has_value());
  expect_same(*store().request(4), refused);
  expect_same(*store().request_by_transaction("t4"), refused);
  EXPECT_EQ(store().request(5)->reason, "");
  expect_same(store().requests()->back(), refused);
  expect_same(store().requests_page(0, 10)->back(), refused);

  refused.reason = "dropped by the operator";  // upsert replaces it
  WriteBatch again;
  again.put_request(refused);
  ASSERT_OK(store().write(again));
  EXPECT_EQ(store().request(4)->reason, "dropped by the operator");

  // Not checked against the table; but it must fit the serial range.
  CertRecord orphan = make_cert(10);
  orphan.predecessor = 999;
  WriteBatch c;
  c.put_certificate(orphan);
  ASSERT_OK(store().write(c));
  EXPECT_EQ(store().certificate(10)->predecessor, Serial{999});
  CertRecord bad = make_cert(11);
  bad.predecessor = kMaxSerial + 1;
  WriteBatch d;
  d.put_certificate(bad);
  EXPECT_CODE(store().write(d), Code::kInvalidArgument);
  EXPECT_CODE(store().certificate(11), Code::kNotFound);
  if (!can_reopen()) return;
  reopen();
  expect_same(*store().certificate(8), renewed);
  expect_same(*store().request(4), refused);
}

// All 64 bits of the entropy survive, the top one included (SQL engines keep it in a
// signed column), in the certificate and in the revocation walk.
TEST_P(StoreContract, SerialEntropyRoundTrip) {
  CertRecord weak = make_cert(5);
  weak.serial_entropy = 0x8000000000000001ull;
  CertRecord zero = make_cert(6);
  zero.serial_entropy = 0;
  WriteBatch b;
  b.put_certificate(weak);
  b.put_certificate(zero);
  b.put_certificate(make_cert(7));
  b.revoke(5, from_unix(1'700'000'100));
  b.revoke(7, from_unix(1'700'000'200));
  ASSERT_OK(store().write(b));
  weak.revoked_at = from_unix(1'700'000'100);
  expect_same(*store().certificate(5), weak);
  expect_same(*store().certificate(6), zero);
  EXPECT_FALSE(store().certificate(7)->serial_entropy.has_value());
  std::vector<Revocation> seen;
  ASSERT_OK(store().for_each_revocation([&](const Revocation& r) { seen.push_back(r); }));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].serial, 5u);
  EXPECT_EQ(seen[0].serial_entropy, std::uint64_t{0x8000000000000001ull});
  EXPECT_EQ(seen[1].serial, 7u);
  EXPECT_FALSE(seen[1].serial_entropy.has_value());
  if (!can_reopen()) return;
  reopen();
  expect_same(*store().certificate(5), weak);
}

TEST_P(StoreContract, ExpiryDeletesRequestsCreatedBeforeTheCutoff) {
  // make_request(id) is created at 1'700'000'000 + id.
  WriteBatch b;
  b.put_certificate(make_cert(2));
  for (RequestId id = 1; id <= 10; ++id) {
    RequestRecord r = request_in(id, id % 2 ? RequestState::kPending : RequestState::kGranted);
    if (r.state == RequestState::kGranted) r.serial = 2;
    b.put_request(r);
  }
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().delete_requests_created_before(from_unix(1'700'000'000)).value_or(99), 0u);
  EXPECT_EQ(store().delete_requests_created_before(from_unix(1'700'000'005)).value_or(99), 4u);
  EXPECT_EQ(ids_of(*store().requests()), (std::vector<RequestId>{10, 9, 8, 7, 6, 5}));
  EXPECT_EQ(store().delete_requests_created_before(from_unix(1'700'000'005)).value_or(99), 0u);
  EXPECT_EQ(store().count_requests({}).value_or(0), 6u);
  ASSERT_OK(store().certificate(2));  // certificates stay
  EXPECT_EQ(store().delete_requests_created_before(from_unix(1'800'000'000)).value_or(99), 6u);
  EXPECT_EQ(store().count_requests({}).value_or(99), 0u);
  EXPECT_EQ(store().delete_requests_created_before(from_unix(1'800'000'000)).value_or(99), 0u);
  EXPECT_GT(store().next_request_id().value_or(0), 10);
}

TEST_P(StoreContract, CountRequestsByState) {
  EXPECT_EQ(store().count_requests({}).value_or(99), 0u);
  EXPECT_EQ(store().count_requests({RequestState::kPending}).value_or(99), 0u);
  WriteBatch b;
  RequestId id = 0;
  for (int i = 0; i < 7; ++i) b.put_request(request_in(++id, RequestState::kPending));
  for (int i = 0; i < 3; ++i) b.put_request(request_in(++id, RequestState::kDenied));
  for (int i = 0; i < 2; ++i) b.put_request(request_in(++id, RequestState::kAuthorized));
  b.put_request(request_in(++id, RequestState::kMalformed));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().count_requests({}).value_or(0), 13u);
  EXPECT_EQ(store().count_requests({RequestState::kPending}).value_or(0), 7u);
  EXPECT_EQ(store().count_requests({RequestState::kGranted}).value_or(99), 0u);
  EXPECT_EQ(store().count_requests({RequestState::kPending, RequestState::kDenied}).value_or(0),
            10u);
  EXPECT_EQ(
      store()
          .count_requests({RequestState::kDenied, RequestState::kDenied, RequestState::kDenied,
                           RequestState::kDenied, RequestState::kDenied, RequestState::kDenied,
                           RequestState::kDenied, RequestState::kAuthorized})
          .value_or(0),
      5u);
  EXPECT_EQ(store()
                .count_requests({RequestState::kInitial, RequestState::kAuthorized,
                                 RequestState::kDenied, RequestState::kGranted,
                                 RequestState::kMalformed, RequestState::kPending})
                .value_or(0),
            13u);
  // A state change moves the request between counts.
  WriteBatch deny;
  deny.put_request(request_in(1, RequestState::kDenied));
  ASSERT_OK(store().write(deny));
  EXPECT_EQ(store().count_requests({RequestState::kPending}).value_or(0), 6u);
  EXPECT_EQ(store().count_requests({RequestState::kDenied}).value_or(0), 4u);
}

TEST_P(StoreContract, RequestPagesAreNewestFirst) {
  // 700 ids with gaps, written out of order.
  std::vector<RequestId> ids;
  for (RequestId id = 1; id <= 700; ++id) ids.push_back(id * 2 + (id % 3 == 0 ? 1 : 0));
  std::vector<RequestId> shuffled = ids;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  WriteBatch b;
  for (RequestId id : shuffled) b.put_request(make_request(id));
  ASSERT_OK(store().write(b));
  std::vector<RequestId> newest_first(ids.rbegin(), ids.rend());

  EXPECT_TRUE(store().requests_page(0, 0)->empty());
  auto first = store().requests_page(0, 3);
  ASSERT_OK(first);
  EXPECT_EQ(ids_of(*first),
            (std::vector<RequestId>(newest_first.begin(), newest_first.begin() + 3)));
  expect_same(first->front(), make_request(newest_first.front()));

  for (std::size_t limit : {1u, 128u, 129u, 256u, 699u, 700u, 701u, 10'000u}) {
    std::vector<RequestId> walked;
    RequestId before = 0;
    for (;;) {
      auto page = store().requests_page(before, limit);
      ASSERT_OK(page);
      ASSERT_LE(page->size(), limit);
      for (const auto& r : *page) walked.push_back(r.id);
      if (page->size() < limit) break;
      before = page->back().id;
    }
    EXPECT_EQ(walked, newest_first) << "limit " << limit;
  }
  // A boundary that is not a stored id, and the oldest one.
  EXPECT_EQ(ids_of(*store().requests_page(8, 10)), (std::vector<RequestId>{7, 4, 2}));
  EXPECT_EQ(ids_of(*store().requests_page(7, 2)), (std::vector<RequestId>{4, 2}));
  EXPECT_TRUE(store().requests_page(2, 10)->empty());
  EXPECT_EQ(ids_of(*store().requests_page(1'000'000, 1)), (std::vector<RequestId>{ids.back()}));
  EXPECT_EQ(ids_of(*store().requests()), newest_first);
}

TEST_P(StoreContract, ForEachRequestIsInIdOrderAcrossChunks) {
  std::vector<RequestId> ids;
  for (RequestId id = 1; id <= 600; ++id) ids.push_back(id * 3);
  std::vector<RequestId> shuffled = ids;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(11));
  WriteBatch b;
  for (RequestId id : shuffled) b.put_request(make_request(id));
  ASSERT_OK(store().write(b));

  std::vector<RequestId> got;
  ASSERT_OK(store().for_each_request([&](const RequestRecord& r) {
    got.push_back(r.id);
    if (r.id == 300) expect_same(r, make_request(300));
    return true;
  }));
  EXPECT_EQ(got, ids);

  for (int stop_after : {1, 127, 128, 129, 256, 257, 599, 600}) {
    int visited = 0;
    ASSERT_OK(store().for_each_request([&](const RequestRecord& r) {
      ++visited;
      EXPECT_EQ(r.id, static_cast<RequestId>(visited) * 3);
      return visited < stop_after;
    }));
    EXPECT_EQ(visited, stop_after);
  }
}

TEST_P(StoreContract, ForEachRequestCallbackMayWrite) {
  WriteBatch b;
  for (RequestId id = 1; id <= 300; ++id) b.put_request(make_request(id));
  ASSERT_OK(store().write(b));
  int visited = 0;
  ASSERT_OK(store().for_each_request([&](const RequestRecord& r) {
    ++visited;
    WriteBatch w;
    RequestRecord denied = r;
    denied.state = RequestState::kDenied;
    w.put_request(denied);
    if (r.id == 1) w.put_request(make_request(10'000));  // far ahead of the walk: seen
    EXPECT_OK(store().write(w));
    EXPECT_OK(store().count_requests({RequestState::kDenied}));
    return true;
  }));
  EXPECT_EQ(visited, 301);
  EXPECT_EQ(store().count_requests({RequestState::kDenied}).value_or(0), 301u);
  EXPECT_EQ(store().count_requests({RequestState::kPending}).value_or(99), 0u);
}

TEST_P(StoreContract, EmptyRequestQueries) {
  int visited = 0;
  ASSERT_OK(store().for_each_request([&](const RequestRecord&) { return ++visited > 0; }));
  EXPECT_EQ(visited, 0);
  ASSERT_OK(store().requests_page(0, 100));
  EXPECT_TRUE(store().requests_page(0, 100)->empty());
  EXPECT_EQ(store().delete_requests_created_before(from_unix(2'000'000'000)).value_or(99), 0u);
}

}  // namespace
}  // namespace scepter::store
