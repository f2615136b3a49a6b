// The certificate server's life cycle and failure paths with injected stores: slow
// enabling work does not block `show` or SCEP, a shutdown voids a run in progress, and a
// store that fails mid-issue hands out no certificate and reuses no serial.

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "ca/ocsp_responder.h"
#include "store/faulty_store.h"

namespace scepter::ca {
namespace {

using testing::make_csr_der;
using testing::ServerHarness;

// Opens a SQLite database but first waits until released: a slow disk or database.
class GatedOpener {
 public:
  StoreOpener opener() {
    return [this](const std::string& path) -> Result<std::unique_ptr<store::Store>> {
      {
        std::unique_lock<std::mutex> lock(mu_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
      }
      return store::open_store({"sqlite:" + path});
    };
  }
  void wait_entered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, released_ = false;
};

TEST(ServerLifeCycle, ShowAndScepAreNotBlockedWhileEnabling) {
  ServerHarness h;
  GatedOpener gate;
  h.make_server(ServerHarness::default_config(), gate.opener());
  auto enabling = std::async(std::launch::async, [&] { return h.server().enable({}); });
  gate.wait_entered();
  // The enabling run holds the database open call; everything else answers at once.
  EXPECT_EQ(h.server().state(), ServerState::kChecking);
  EXPECT_EQ(h.server().info().state, ServerState::kChecking);
  EXPECT_CODE(h.server().scep_poll("x"), Code::kUnavailable);
  EXPECT_CODE(h.server().submit(make_csr_der("CN=x"), RequestSource::kManualPem),
              Code::kUnavailable);
  gate.release();
  ASSERT_OK(enabling.get());
  EXPECT_EQ(h.server().state(), ServerState::kEnabled);
}

TEST(ServerLifeCycle, ShutdownWhileCheckingVoidsTheRun) {
  ServerHarness h;
  GatedOpener gate;
  h.make_server(ServerHarness::default_config(), gate.opener());
  auto enabling = std::async(std::launch::async, [&] { return h.server().enable({}); });
  gate.wait_entered();
  h.server().shutdown();
  EXPECT_EQ(h.server().state(), ServerState::kDisabled);
  gate.release();
  EXPECT_CODE(enabling.get(), Code::kUnavailable);
  EXPECT_EQ(h.server().state(), ServerState::kDisabled);
  h.server().tick();  // the timer does not bring it back either
  EXPECT_EQ(h.server().state(), ServerState::kDisabled);
}

TEST(ServerLifeCycle, FirstEnableWithoutTheArchivePasswordWaitsForTheOperator) {
  ServerHarness h;
  ServerConfig c = ServerHarness::default_config();
  c.label = "fresh";
  c.archive_password.clear();
  h.make_server(c);
  EXPECT_CODE(h.server().enable({}), Code::kPermissionDenied);
  EXPECT_EQ(h.server().state(), ServerState::kWaitingForOperator);
  EXPECT_FALSE(h.server().has_ca_certificate());
  h.server().tick();  // never retried behind the operator's back
  EXPECT_EQ(h.server().state(), ServerState::kWaitingForOperator);
  ASSERT_OK(h.server().enable({.archive_password = "typed-at-prompt"}));
  EXPECT_EQ(h.server().state(), ServerState::kEnabled);
}

// The passphrase typed at `no shutdown` is kept while the server waits (here, for the
// clock), so the retry can use it; `shutdown` forgets it.
TEST(ServerLifeCycle, ShutdownForgetsAPassphraseTypedForAServerThatNeverCameUp) {
  ServerHarness h;
  ServerConfig c = ServerHarness::default_config();
  c.label = "fresh";
  c.archive_password.clear();
  h.make_server(c);
  const TimePoint start = h.clock().now();
  h.clock().set(from_unix(0));
  EXPECT_CODE(h.server().enable({.archive_password = "typed-at-prompt"}), Code::kUnavailable);
  h.server().shutdown();
  h.clock().set(start);
  EXPECT_CODE(h.server().enable({}), Code::kPermissionDenied);
  EXPECT_EQ(h.server().state(), ServerState::kWaitingForOperator);
  EXPECT_FALSE(h.server().has_ca_certificate());
}

class FaultyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.make_server(ServerHarness::default_config(),
                   [this](const std::string& path) -> Result<std::unique_ptr<store::Store>> {
                     ASSIGN_OR_RETURN(auto base, store::open_store({"sqlite:" + path}));
                     auto faulty = std::make_unique<store::FaultyStore>(std::move(base));
                     faulty_ = faulty.get();
                     return std::unique_ptr<store::Store>(std::move(faulty));
                   });
    ASSERT_OK(h_.server().enable({}));
    ASSERT_OK(h_.set([](ServerConfig& c) { c.grant = GrantMode::kAuto; }));
  }

  ServerHarness h_;
  store::FaultyStore* faulty_ = nullptr;
};

// /metrics reads the counts on a thread of its own: a store that hangs leaves the last
// counts in the gauges, and no scrape waits longer than it is told.
TEST_F(FaultyStoreTest, GaugesDoNotWaitForAStoreThatHangs) {
  using std::chrono::milliseconds;
  auto issued = h_.server().scep_enroll(make_csr_der("CN=g"), {"t-g", "", false});
  ASSERT_OK(issued);
  const ServerGauges before = h_.server().gauges(milliseconds(0), std::chrono::seconds(10));
  ASSERT_TRUE(before.certificates.has_value());
  EXPECT_EQ(*before.certificates, 2u);  // the CA's own and CN=g

  faulty_->hang_reads();
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const ServerGauges g = h_.server().gauges(milliseconds(0), milliseconds(50));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_EQ(g.state, ServerState::kEnabled);
    EXPECT_EQ(g.certificates, before.certificates);
    EXPECT_EQ(g.pending, before.pending);
  }
  faulty_->heal();
  // The read that waited ends; the next one sees the store again.
  const ServerGauges after = h_.server().gauges(milliseconds(0), std::chrono::seconds(10));
  EXPECT_EQ(after.certificates, before.certificates);
}

TEST_F(FaultyStoreTest, AWriteThatFailsMidIssueHandsOutNothingAndReusesNoSerial) {
  auto first = h_.server().scep_enroll(make_csr_der("CN=a"), {"t-a", "", false});
  ASSERT_OK(first);
  ASSERT_EQ(first->status, ScepOutcome::Status::kSuccess);
  const auto first_serial = first->certificate->serial()->sequence;

  faulty_->fail_next_writes(1);
  auto failed = h_.server().scep_enroll(make_csr_der("CN=b"), {"t-b", "", false});
  // The server's own trouble is an error (HTTP 503 for SCEP), never a certificate.
  EXPECT_CODE(failed, Code::kUnavailable);
  auto rows = h_.server().requests();
  ASSERT_OK(rows);
  for (const auto& r : *rows) EXPECT_NE(r.transaction_id, "t-b");

  auto retry = h_.server().scep_enroll(make_csr_der("CN=b"), {"t-b", "", false});
  ASSERT_OK(retry);
  ASSERT_EQ(retry->status, ScepOutcome::Status::kSuccess);
  EXPECT_GT(retry->certificate->serial()->sequence, first_serial);
  std::set<store::Serial> serials;
  ASSERT_OK(h_.server().for_each_certificate([&](const store::CertRecord& rec) {
    EXPECT_TRUE(serials.insert(rec.serial).second) << rec.serial;
    return true;
  }));
  EXPECT_EQ(serials.size(), 3u);  // the CA's, a's and b's
}

// The reply to a new certificate is prepared while the certificate is committed: the
// hook sees the certificate the outcome then names, and a commit that fails after the
// hook ran still hands out nothing.
TEST_F(FaultyStoreTest, TheReplyPreparedDuringTheCommitIsOnlyForTheCommittedCertificate) {
  std::vector<std::string> seen;
  const WhileCommitting hook = [&](const pki::Certificate& c) { seen.push_back(c.der()); };

  const std::string csr = make_csr_der("CN=d");
  auto ok = h_.server().scep_enroll(csr, {"t-d", "", false, hook});
  ASSERT_OK(ok);
  ASSERT_EQ(ok->status, ScepOutcome::Status::kSuccess);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], ok->certificate->der());

  // The same transaction again: answered from the database, nothing new to prepare.
  auto again = h_.server().scep_enroll(csr, {"t-d", "", false, hook});
  ASSERT_OK(again);
  ASSERT_EQ(again->status, ScepOutcome::Status::kSuccess);
  EXPECT_EQ(again->certificate->der(), seen[0]);
  EXPECT_EQ(seen.size(), 1u);

  faulty_->fail_next_writes(1);
  auto failed = h_.server().scep_enroll(make_csr_der("CN=e"), {"t-e", "", false, hook});
  EXPECT_CODE(failed, Code::kUnavailable);
  ASSERT_EQ(seen.size(), 2u);  // prepared, and never committed
  const auto never = pki::Certificate::from_der(seen[1]);
  ASSERT_OK(never);
  EXPECT_CODE(h_.server().certificate_by_serial(*never->serial()), Code::kNotFound);

  // Manual grant: the request waits, nothing is issued or prepared.
  ASSERT_OK(h_.set([](ServerConfig& c) { c.grant = GrantMode::kManual; }));
  auto pending = h_.server().scep_enroll(make_csr_der("CN=f"), {"t-f", "", false, hook});
  ASSERT_OK(pending);
  EXPECT_EQ(pending->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(seen.size(), 2u);
}

// The delegated OCSP responder's certificate is due for renewal while the database
// refuses writes: the timer tries once, then waits a minute, then two, and renews once
// the database is back. Each try takes a serial number, which the failed write wastes:
// the renewed certificate's serial counts the tries.
TEST_F(FaultyStoreTest, AFailingOcspRenewalIsRetriedLessAndLessOften) {
  h_.server().shutdown();
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.ocsp = true;
    c.ocsp_url = "http://ocsp.example/ocsp";
    c.ocsp_responder_key = "ocsp";
  }));
  ASSERT_OK(h_.server().enable({}));
  const pki::Certificate first = *h_.server().ocsp_responder()->certificate();
  // The CRL falls due first (a week), and is published while the database still works.
  h_.clock().advance(std::chrono::days(19));
  h_.server().tick();
  ASSERT_EQ(*h_.server().ocsp_responder()->certificate(), first);
  h_.clock().advance(std::chrono::days(1));  // a third of its 30 days left
  faulty_->fail_all_writes();
  h_.server().tick();  // try 1 fails: the next in a minute
  for (int i = 0; i < 6; ++i) {
    h_.clock().advance(std::chrono::seconds(10));
    h_.server().tick();  // within the minute: no try
  }
  h_.clock().advance(std::chrono::seconds(5));
  h_.server().tick();  // 65 s: try 2 fails, the next in two minutes
  for (int i = 0; i < 11; ++i) {
    h_.clock().advance(std::chrono::seconds(10));
    h_.server().tick();  // within the two minutes: no try
  }
  EXPECT_EQ(*h_.server().ocsp_responder()->certificate(), first);
  faulty_->heal();
  h_.clock().advance(std::chrono::seconds(15));
  h_.server().tick();  // 190 s: try 3 renews
  const pki::Certificate renewed = *h_.server().ocsp_responder()->certificate();
  ASSERT_NE(renewed, first);
  EXPECT_EQ(testing::serial_of(renewed), testing::serial_of(first) + 3) << "three tries";
  // A success resets the wait: nothing more until the next renewal is due.
  h_.clock().advance(std::chrono::days(1));
  h_.server().tick();
  EXPECT_EQ(*h_.server().ocsp_responder()->certificate(), renewed);
}

TEST_F(FaultyStoreTest, AnUnreachableDatabaseIsTemporaryTrouble) {
  faulty_->fail_all_allocations();
  EXPECT_CODE(h_.server().scep_enroll(make_csr_der("CN=c"), {"t-c", "", false}),
              Code::kUnavailable);
  faulty_->fail_all_reads();
  EXPECT_CODE(h_.server().scep_poll("t-a"), Code::kUnavailable);
  faulty_->heal();
  auto ok = h_.server().scep_enroll(make_csr_der("CN=c"), {"t-c", "", false});
  ASSERT_OK(ok);
  EXPECT_EQ(ok->status, ScepOutcome::Status::kSuccess);
}

}  // namespace
}  // namespace scepter::ca
