// The Store contract: the RFC 5280 CRLReason a revocation may carry.

#include <optional>
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
using testing::one_cert;
using testing::StoreContract;

constexpr int kKeyCompromise = 1;
constexpr int kSuperseded = 4;
constexpr int kRemoveFromCrl = 8;
constexpr int kAaCompromise = 10;

WriteBatch revoke_batch(Serial serial, TimePoint at, std::optional<int> reason) {
  WriteBatch b;
  b.revoke(serial, at, reason);
  return b;
}

TEST_P(StoreContract, RevokeWithReasonReadsItBack) {
  WriteBatch b;
  b.put_certificate(make_cert(3));
  b.put_certificate(make_cert(4));
  b.revoke(3, from_unix(1'700'000'500), kKeyCompromise);
  b.revoke(4, from_unix(1'700'000'600), 0);  // unspecified is a code like the others
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().certificate(3)->revocation_reason, kKeyCompromise);
  EXPECT_EQ(store().certificate(4)->revocation_reason, 0);
  std::vector<Revocation> seen = revocations();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].serial, 3u);
  EXPECT_EQ(seen[0].at, from_unix(1'700'000'500));
  EXPECT_EQ(seen[0].reason, kKeyCompromise);
  EXPECT_EQ(seen[1].reason, 0);
  if (!can_reopen()) return;
  reopen();
  EXPECT_EQ(store().certificate(3)->revocation_reason, kKeyCompromise);
  ASSERT_EQ(revocations().size(), 2u);
  EXPECT_EQ(revocations()[0].reason, kKeyCompromise);
}

TEST_P(StoreContract, RevokeWithoutReasonReadsBackNone) {
  ASSERT_OK(store().write(one_cert(3)));
  ASSERT_OK(store().write(revoke_batch(3, from_unix(10), std::nullopt)));
  EXPECT_FALSE(store().certificate(3)->revocation_reason.has_value());
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_FALSE(revocations()[0].reason.has_value());
}

TEST_P(StoreContract, UnrevokeClearsTheReasonAndARevokeSetsItsOwn) {
  ASSERT_OK(store().write(one_cert(3)));
  ASSERT_OK(store().write(revoke_batch(3, from_unix(10), kKeyCompromise)));
  WriteBatch unrevoke;
  unrevoke.unrevoke(3);
  ASSERT_OK(store().write(unrevoke));
  EXPECT_FALSE(store().certificate(3)->revocation_reason.has_value());

  ASSERT_OK(store().write(revoke_batch(3, from_unix(20), kSuperseded)));
  EXPECT_EQ(store().certificate(3)->revocation_reason, kSuperseded);
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_EQ(revocations()[0].at, from_unix(20));
  EXPECT_EQ(revocations()[0].reason, kSuperseded);

  // Taken back and revoked again without a reason: the old one does not come back.
  WriteBatch again;
  again.unrevoke(3);
  again.revoke(3, from_unix(30));
  ASSERT_OK(store().write(again));
  EXPECT_FALSE(store().certificate(3)->revocation_reason.has_value());
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_FALSE(revocations()[0].reason.has_value());
}

TEST_P(StoreContract, RevokeTwiceKeepsTheFirstReason) {
  ASSERT_OK(store().write(one_cert(3)));
  ASSERT_OK(store().write(revoke_batch(3, from_unix(10), kKeyCompromise)));
  EXPECT_CODE(store().write(revoke_batch(3, from_unix(20), kSuperseded)), Code::kAlreadyExists);
  EXPECT_EQ(store().certificate(3)->revocation_reason, kKeyCompromise);
}

TEST_P(StoreContract, FailingBatchKeepsTheReason) {
  ASSERT_OK(store().write(one_cert(5)));
  ASSERT_OK(store().write(revoke_batch(5, from_unix(50), kKeyCompromise)));
  WriteBatch failing;
  failing.unrevoke(5);
  failing.revoke(5, from_unix(60), kSuperseded);
  failing.unrevoke(404);  // fails: the unrevoke and revoke above must be undone
  EXPECT_CODE(store().write(failing), Code::kNotFound);
  EXPECT_EQ(store().certificate(5)->revoked_at, from_unix(50));
  EXPECT_EQ(store().certificate(5)->revocation_reason, kKeyCompromise);
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_EQ(revocations()[0].reason, kKeyCompromise);
}

TEST_P(StoreContract, ReasonThatIsNotACrlReasonFailsTheBatch) {
  ASSERT_OK(store().write(one_cert(3)));
  for (int bad : {-1, 7, 11, 1000}) {
    WriteBatch b;
    b.put_certificate(make_cert(4));  // undone with the batch
    b.revoke(3, from_unix(10), bad);
    EXPECT_CODE(store().write(b), Code::kInvalidArgument) << bad;
    EXPECT_CODE(store().certificate(4), Code::kNotFound) << bad;
    EXPECT_FALSE(store().certificate(3)->revoked_at.has_value()) << bad;
  }
  EXPECT_TRUE(revocations().empty());
  // The codes at the edges, and removeFromCRL (which only delta CRLs use), are stored.
  WriteBatch edges;
  for (Serial s : {5, 6, 7}) edges.put_certificate(make_cert(s));
  edges.revoke(5, from_unix(1), 0);
  edges.revoke(6, from_unix(1), kRemoveFromCrl);
  edges.revoke(7, from_unix(1), kAaCompromise);
  ASSERT_OK(store().write(edges));
  EXPECT_EQ(store().certificate(6)->revocation_reason, kRemoveFromCrl);
  EXPECT_EQ(store().certificate(7)->revocation_reason, kAaCompromise);
}

TEST_P(StoreContract, CertificateWithAReasonRoundTrips) {
  CertRecord c = make_cert(7);
  c.revoked_at = from_unix(1'700'000'123);
  c.revocation_reason = kSuperseded;
  WriteBatch b;
  b.put_certificate(c);
  ASSERT_OK(store().write(b));
  expect_same(*store().certificate(7), c);
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_EQ(revocations()[0].reason, kSuperseded);

  CertRecord bad_code = make_cert(8);
  bad_code.revoked_at = from_unix(1);
  bad_code.revocation_reason = 7;
  WriteBatch bad;
  bad.put_certificate(bad_code);
  EXPECT_CODE(store().write(bad), Code::kInvalidArgument);

  CertRecord not_revoked = make_cert(9);
  not_revoked.revocation_reason = kKeyCompromise;
  WriteBatch orphan;
  orphan.put_certificate(not_revoked);
  EXPECT_CODE(store().write(orphan), Code::kInvalidArgument);
  EXPECT_EQ(store().certificate_count().value_or(0), 1u);
  if (!can_reopen()) return;
  reopen();
  expect_same(*store().certificate(7), c);
}

}  // namespace
}  // namespace scepter::store
