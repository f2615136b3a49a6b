// CrlPublisher on its own: what readers of the CRL wait for while a revocation runs.
#include "ca/crl_publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "ca/ca_test_support.h"
#include "pki/test_support.h"
#include "store/memory/memory_store.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/pg_test_util.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;

constexpr int kKeyCompromise = 1;
constexpr int kSuperseded = 4;

// A MemoryStore whose next write(), once armed, waits until released: a revocation
// stays in progress, holding whatever the publisher holds around its writes.
class GatedStore final : public store::Store {
 public:
  void arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
  }
  // Waits until an armed write has started (and is waiting); false after 10 s.
  bool wait_entered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return entered_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  Status write(const store::WriteBatch& batch) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (armed_) {
        armed_ = false;
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
      }
    }
    return base_.write(batch);
  }
  Result<std::optional<std::string>> meta(const std::string& key) const override {
    return base_.meta(key);
  }
  Result<store::CertRecord> certificate(store::Serial serial) const override {
    return base_.certificate(serial);
  }
  Status for_each_certificate(
      const std::function<bool(const store::CertRecord&)>& fn) const override {
    return base_.for_each_certificate(fn);
  }
  Result<std::uint64_t> certificate_count() const override { return base_.certificate_count(); }
  Result<store::Serial> last_serial() const override { return base_.last_serial(); }
  Status for_each_revocation(
      const std::function<void(const store::Revocation&)>& fn) const override {
    return base_.for_each_revocation(fn);
  }
  Result<store::RequestRecord> request(store::RequestId id) const override {
    return base_.request(id);
  }
  Result<store::RequestRecord> request_by_transaction(const std::string& tid) const override {
    return base_.request_by_transaction(tid);
  }
  Result<std::vector<store::RequestRecord>> requests() const override { return base_.requests(); }
  Result<std::vector<store::RequestRecord>> requests_page(store::RequestId before_id,
                                                          std::size_t limit) const override {
    return base_.requests_page(before_id, limit);
  }
  Status for_each_request(
      const std::function<bool(const store::RequestRecord&)>& fn) const override {
    return base_.for_each_request(fn);
  }
  Result<std::uint64_t> count_requests(
      const std::vector<store::RequestState>& states) const override {
    return base_.count_requests(states);
  }
  Result<std::uint64_t> delete_requests_created_before(TimePoint cutoff) override {
    return base_.delete_requests_created_before(cutoff);
  }
  Result<store::Serial> allocate_serial() override { return base_.allocate_serial(); }
  Result<store::RequestId> next_request_id() override { return base_.next_request_id(); }

 private:
  store::MemoryStore base_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool entered_ = false;
  bool released_ = false;
};

class CrlPublisherTest : public ::testing::Test {
 protected:
  CrlPublisherTest() {
    cfg_.label = "ca";
    EXPECT_OK(store_.write(store::testing::one_cert(2)));
  }
  files::FileSet files() const {
    return files::FileSet(cfg_.locations, testing::resolver_for(dir_.path()));
  }

  store::testing::TempDir dir_;
  FakeClock clock_{from_unix(pki::test::kNow + 3600)};
  GatedStore store_;
  ServerConfig cfg_;
  CrlPublisher crl_{store_, pki::test::make_test_ca(testing::shared_ca_key()),
                    testing::shared_ca_key(), clock_, "ca"};
};

TEST_F(CrlPublisherTest, ReadersDoNotWaitForARevocationInProgress) {
  ASSERT_OK(crl_.load(cfg_, files()));
  const auto before = crl_.der();
  ASSERT_NE(before, nullptr);
  const auto next_before = crl_.next_update();
  ASSERT_TRUE(next_before.has_value());

  // The revocation stops in the store, with the publisher's build lock held.
  store_.arm();
  clock_.advance(60s);
  auto revoking = std::async(std::launch::async, [&] {
    return crl_.revoke(pki::SerialNumber{2}, std::nullopt, cfg_, files());
  });
  ASSERT_TRUE(store_.wait_entered());

  auto reading = std::async(std::launch::async, [&] {
    return std::make_tuple(crl_.der(), crl_.next_update(), crl_.dirty());
  });
  const bool answered = reading.wait_for(5s) == std::future_status::ready;
  store_.release();  // whatever happened, let the revocation finish
  ASSERT_TRUE(answered) << "a reader waited for the revocation";
  const auto [der, next, dirty] = reading.get();
  EXPECT_EQ(der, before);  // the CRL published before, unchanged
  EXPECT_EQ(next, next_before);
  EXPECT_FALSE(dirty);

  ASSERT_OK(revoking.get());
  const auto after = crl_.der();
  ASSERT_NE(after, nullptr);
  EXPECT_NE(*after, *before);
  auto info = pki::parse_crl_info(*after);
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), 1u);
  EXPECT_EQ(info->entries[0].serial.sequence, 2u);
  EXPECT_EQ(crl_.next_update(), clock_.now() + std::chrono::hours(cfg_.crl_lifetime_hours));
}

TEST_F(CrlPublisherTest, AFailedWriteIsShownToReaders) {
  ASSERT_OK(crl_.load(cfg_, files()));
  EXPECT_FALSE(crl_.dirty());
  // The CRL's directory disappears: the revocation is recorded, the CRL is not written.
  cfg_.locations.primary = "/nonexistent-scepter-dir/";
  const Status s = crl_.revoke(pki::SerialNumber{2}, std::nullopt, cfg_, files());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_TRUE(crl_.dirty());
  cfg_.locations.primary = "nvram:";
  ASSERT_OK(crl_.refresh_if_due(cfg_, files()));
  EXPECT_FALSE(crl_.dirty());
}

TEST_F(CrlPublisherTest, TheReasonIsStoredAndListed) {
  ASSERT_OK(crl_.load(cfg_, files()));
  ASSERT_OK(crl_.revoke(pki::SerialNumber{2}, kKeyCompromise, cfg_, files()));
  EXPECT_EQ(store_.certificate(2).value_or(store::CertRecord{}).revocation_reason, kKeyCompromise);
  auto info = pki::parse_crl_info(*crl_.der());
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), 1u);
  EXPECT_EQ(info->entries[0].reason, kKeyCompromise);
}

// removeFromCRL belongs to delta CRLs: refused before the store records anything.
TEST_F(CrlPublisherTest, AReasonNoEntryCarriesIsRefused) {
  ASSERT_OK(crl_.load(cfg_, files()));
  const auto before = crl_.der();
  for (int bad : {pki::kCrlReasonRemoveFromCrl, 7, 11, -1}) {
    EXPECT_CODE(crl_.revoke(pki::SerialNumber{2}, bad, cfg_, files()), Code::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(store_.certificate(2).value_or(store::CertRecord{}).revoked_at.has_value());
  EXPECT_EQ(crl_.der(), before);
}

// Start-up refills the CRL from the database with the reasons; a stored code no CRL
// entry may carry leaves its entry without one.
TEST_F(CrlPublisherTest, StartUpListsTheStoredReasons) {
  store::WriteBatch b;
  b.put_certificate(store::testing::make_cert(3));
  b.put_certificate(store::testing::make_cert(4));
  b.revoke(2, clock_.now(), kSuperseded);
  b.revoke(3, clock_.now());
  b.revoke(4, clock_.now(), pki::kCrlReasonRemoveFromCrl);
  ASSERT_OK(store_.write(b));
  ASSERT_OK(crl_.load(cfg_, files()));
  auto info = pki::parse_crl_info(*crl_.der());
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), 3u);
  EXPECT_EQ(info->entries[0].reason, kSuperseded);
  EXPECT_FALSE(info->entries[1].reason.has_value());
  EXPECT_EQ(info->entries[2].serial.sequence, 4u);
  EXPECT_FALSE(info->entries[2].reason.has_value());
}

// Two nodes on one PostgreSQL database, each with its store and publisher (in one
// process here; the integration tests run two scepterd). One publishes; a revocation at
// the other reaches the CRL both serve; when the publisher goes, the other takes over
// and the CRL number goes on.
TEST(CrlPublisherNodesTest, OneNodePublishesAndTheOthersFollow) {
  const std::string url = store::testing::postgres_test_url();
  if (url.empty()) return store::testing::skip_without_postgres();
  auto schema = store::testing::PgSchema::create(url);
  ASSERT_OK(schema);
  const std::string label = "ca_" + (*schema)->name();  // roles and events span the database
  auto store_a = store::PgStore::open((*schema)->url());
  auto store_b = store::PgStore::open((*schema)->url());
  ASSERT_OK(store_a);
  ASSERT_OK(store_b);
  ASSERT_OK((*store_a)->write(store::testing::one_cert(2)));
  ASSERT_OK((*store_a)->write(store::testing::one_cert(3)));
  store::testing::TempDir dir_a, dir_b;
  ServerConfig cfg;
  cfg.label = label;
  auto files_of = [&](const store::testing::TempDir& d) {
    return files::FileSet(cfg.locations, testing::resolver_for(d.path()));
  };
  FakeClock clock{from_unix(pki::test::kNow + 3600)};
  const auto ca = pki::test::make_test_ca(testing::shared_ca_key());
  auto a = std::make_unique<CrlPublisher>(**store_a, ca, testing::shared_ca_key(), clock, label);
  CrlPublisher b(**store_b, ca, testing::shared_ca_key(), clock, label);
  ASSERT_OK(a->load(cfg, files_of(dir_a)));
  ASSERT_OK(b.load(cfg, files_of(dir_b)));
  ASSERT_TRUE(a->publisher().has_value());
  EXPECT_TRUE(a->publisher()->here);
  EXPECT_FALSE(b.publisher()->here);
  EXPECT_EQ(b.publisher()->node, a->publisher()->node);
  ASSERT_NE(b.der(), nullptr);
  EXPECT_EQ(*b.der(), *a->der());  // the stored CRL, not one of its own
  const auto number_of = [](const std::shared_ptr<const std::string>& der) -> std::uint64_t {
    if (der == nullptr) return 0;
    auto info = pki::parse_crl_info(*der);
    return info.has_value() ? info->crl_number.value_or(0) : 0;
  };
  const std::uint64_t first = number_of(a->der());
  EXPECT_GE(first, 1u);

  // Revoked at B: recorded, passed on; A publishes (the reason read back from the
  // database) and B serves the new CRL.
  ASSERT_OK(b.revoke(pki::SerialNumber{2}, kKeyCompromise, cfg, files_of(dir_b)));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (number_of(b.der()) == first && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(number_of(b.der()), first + 1);
  ASSERT_EQ(number_of(a->der()), first + 1);
  auto info = pki::parse_crl_info(*b.der());
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), 1u);
  EXPECT_EQ(info->entries[0].serial.sequence, 2u);
  EXPECT_EQ(info->entries[0].reason, kKeyCompromise);
  EXPECT_EQ(b.revoke(pki::SerialNumber{2}, std::nullopt, cfg, files_of(dir_b)).code(),
            Code::kAlreadyExists);

  // A goes (its session ends): B's timer takes the role, and publishes above A's number.
  a.reset();
  store_a->reset();
  const auto taken_by = std::chrono::steady_clock::now() + 10s;  // the server ends it soon
  do {
    ASSERT_OK(b.refresh_if_due(cfg, files_of(dir_b)));
  } while (!b.publisher()->here && std::chrono::steady_clock::now() < taken_by &&
           (std::this_thread::sleep_for(50ms), true));
  ASSERT_TRUE(b.publisher()->here);
  ASSERT_OK(b.revoke(pki::SerialNumber{3}, std::nullopt, cfg, files_of(dir_b)));
  info = pki::parse_crl_info(*b.der());
  ASSERT_OK(info);
  EXPECT_GT(info->crl_number.value_or(0), first + 1);
  ASSERT_EQ(info->entries.size(), 2u);
  EXPECT_EQ(info->entries[0].reason, kKeyCompromise);  // B refilled its CRL from the database
  EXPECT_FALSE(info->entries[1].reason.has_value());
}

}  // namespace
}  // namespace scepter::ca
