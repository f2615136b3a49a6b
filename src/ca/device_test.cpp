#include "ca/device.h"

#include <algorithm>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ca/ca_test_support.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

class DeviceTest : public ::testing::Test {
 protected:
  std::unique_ptr<Device> make(const std::string& passphrase = "master") {
    auto d = Device::create({tmp_.file("nvram"), "", passphrase}, clock_);
    EXPECT_OK(d);
    return d.has_value() ? std::move(*d) : nullptr;
  }

  store::testing::TempDir tmp_;
  SystemClock clock_;
};

TEST_F(DeviceTest, ResolvesLocalUrls) {
  auto d = make();
  ASSERT_TRUE(d);
  const std::string nvram = tmp_.file("nvram");
  EXPECT_EQ(*d->resolve_local_url("nvram:"), nvram);
  EXPECT_EQ(*d->resolve_local_url("nvram:x.csr"), nvram + "/x.csr");
  EXPECT_EQ(*d->resolve_local_url("nvram:/x.csr"), nvram + "/x.csr");
  EXPECT_EQ(*d->resolve_local_url("flash:certs"), nvram + "/../flash/certs");
  EXPECT_EQ(*d->resolve_local_url("/var/lib/x"), "/var/lib/x");
  EXPECT_EQ(*d->resolve_local_url("file:///var/lib/x"), "/var/lib/x");
  for (const char* bad : {"tftp://10.0.0.1/x", "ftp://h/x", "http://h/x", "relative", ""}) {
    EXPECT_CODE(d->resolve_local_url(bad), Code::kInvalidArgument) << bad;
  }
}

TEST_F(DeviceTest, CreateAndDeleteServer) {
  auto d = make();
  ASSERT_TRUE(d);
  auto s = d->create_server("mycs");
  ASSERT_OK(s);
  EXPECT_EQ(d->server("mycs"), *s);
  EXPECT_CODE(d->create_server("mycs"), Code::kAlreadyExists);
  EXPECT_CODE(d->create_server("bad label"), Code::kInvalidArgument);
  auto tp = d->trustpoint("mycs");
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(tp->rsakeypair, "mycs");
  EXPECT_EQ(tp->revocation_check, "crl");
  EXPECT_CODE(d->remove_trustpoint("mycs"), Code::kPermissionDenied);

  ServerConfig c = (*s)->config();
  c.archive_password = "archive-password";
  ASSERT_OK((*s)->set_config(c));
  ASSERT_OK((*s)->enable({}));
  EXPECT_TRUE(d->keys().get("mycs").has_value());
  EXPECT_TRUE(fs::exists(tmp_.file("nvram/mycs#1CA.cer")));

  ASSERT_OK(d->delete_server("mycs"));
  EXPECT_EQ(d->server("mycs"), nullptr);
  EXPECT_EQ((*s)->state(), ServerState::kDisabled);
  EXPECT_FALSE(d->trustpoint("mycs").has_value());
  EXPECT_FALSE(d->keys().get("mycs").has_value());
  EXPECT_FALSE(fs::exists(tmp_.file("nvram/mycs#1CA.cer")));
  EXPECT_FALSE(fs::exists(tmp_.file("nvram/private-keys/mycs.key")));
  EXPECT_CODE(d->delete_server("mycs"), Code::kNotFound);
}

TEST_F(DeviceTest, TrustpointsAreEditedInOneStep) {
  auto d = make();
  ASSERT_TRUE(d);
  auto set_url = [](TrustpointConfig& tp) {
    tp.enrollment_url = "http://ca";
    return ok_status();
  };
  EXPECT_CODE(d->edit_trustpoint("tp", set_url), Code::kNotFound);
  EXPECT_FALSE(d->trustpoint("tp").has_value());
  ASSERT_OK(d->edit_trustpoint("tp", set_url, /*create=*/true));
  ASSERT_TRUE(d->trustpoint("tp").has_value());
  EXPECT_EQ(d->trustpoint("tp")->name, "tp");
  EXPECT_EQ(d->trustpoint("tp")->enrollment_url, "http://ca");
  // A failed edit changes nothing, even what it changed before failing.
  EXPECT_CODE(d->edit_trustpoint("tp",
                                 [](TrustpointConfig& tp) {
                                   tp.enrollment_url = "http://other";
                                   return permission_denied("locked");
                                 }),
              Code::kPermissionDenied);
  EXPECT_EQ(d->trustpoint("tp")->enrollment_url, "http://ca");
  ASSERT_OK(d->edit_trustpoint("a", set_url, true));
  auto all = d->trustpoints();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_EQ(all[1].name, "tp");
  ASSERT_OK(d->remove_trustpoint("tp"));
  EXPECT_CODE(d->remove_trustpoint("tp"), Code::kNotFound);
  EXPECT_EQ(d->trustpoints().size(), 1u);
}

// No device-wide lock: while one caller is inside a trustpoint edit (holding that lock),
// another reads and changes everything else. Event-based: the edit waits for the test.
TEST_F(DeviceTest, OneObjectsLockDoesNotHoldTheOthers) {
  auto d = make();
  ASSERT_TRUE(d);
  ASSERT_OK(d->create_server("cs"));
  std::promise<void> inside;
  std::promise<void> release;
  std::thread editor([&] {
    EXPECT_OK(d->edit_trustpoint(
        "slow",
        [&](TrustpointConfig&) {
          inside.set_value();
          release.get_future().wait();
          return ok_status();
        },
        true));
  });
  inside.get_future().wait();
  d->set_hostname("other");
  EXPECT_EQ(d->hostname(), "other");
  ASSERT_OK(d->keys().put({"k", testing::shared_ca_key()}));
  EXPECT_EQ(d->keys().list().size(), 1u);
  EXPECT_NE(d->server("cs"), nullptr);
  EXPECT_EQ(d->servers().size(), 1u);
  d->edit_http([](HttpConfig& h) { h.port = 8080; });
  EXPECT_EQ(d->http().port, 8080);
  release.set_value();
  editor.join();
  EXPECT_TRUE(d->trustpoint("slow").has_value());
}

// With several certificate servers, one holds at most its share of the request workers:
// past it a request waits while the server's requests end, and is refused once none has
// for kRequestShareStuck. One server alone is not limited; a slot comes back when its
// request ends.
TEST_F(DeviceTest, OneServerOfSeveralHoldsAtMostItsShareOfRequests) {
  using std::chrono::steady_clock;
  auto d = make();
  ASSERT_TRUE(d);
  d->set_max_requests_per_server(2);
  auto a = d->create_server("a");
  ASSERT_OK(a);
  {
    std::vector<RequestSlot> alone;
    for (int i = 0; i < 5; ++i) {
      auto slot = d->try_begin_request(**a);
      ASSERT_TRUE(slot.has_value());
      alone.push_back(std::move(*slot));
    }
    EXPECT_EQ((*a)->running_requests(), 5u);
  }
  EXPECT_EQ((*a)->running_requests(), 0u);

  auto b = d->create_server("b");
  ASSERT_OK(b);
  std::vector<RequestSlot> held;
  for (int i = 0; i < 2; ++i) {
    auto slot = d->try_begin_request(**a);
    ASSERT_TRUE(slot.has_value());
    held.push_back(std::move(*slot));
  }
  EXPECT_TRUE(d->try_begin_request(**b).has_value());  // the other server is not held up

  // A burst: the third waits for one of the two to end.
  std::thread ends([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    held.pop_back();
  });
  auto third = d->try_begin_request(**a);
  ends.join();
  ASSERT_TRUE(third.has_value());
  held.push_back(std::move(*third));
  EXPECT_EQ((*a)->running_requests(), 2u);

  // Stuck: no request ends; refused after kRequestShareStuck, then at once.
  const auto start = steady_clock::now();
  EXPECT_FALSE(d->try_begin_request(**a).has_value());
  EXPECT_GE(steady_clock::now() - start, kRequestShareStuck - std::chrono::milliseconds(200));
  const auto again = steady_clock::now();
  EXPECT_FALSE(d->try_begin_request(**a).has_value());
  EXPECT_LT(steady_clock::now() - again, std::chrono::milliseconds(500));
  EXPECT_TRUE(d->try_begin_request(**b).has_value());
  held.clear();
  EXPECT_EQ((*a)->running_requests(), 0u);
  EXPECT_TRUE(d->try_begin_request(**a).has_value());

  ASSERT_OK(d->delete_server("b"));
  auto slot1 = d->try_begin_request(**a);
  auto slot2 = d->try_begin_request(**a);
  EXPECT_TRUE(d->try_begin_request(**a).has_value());  // alone again
}

TEST_F(DeviceTest, ClockOffsetPersists) {
  auto d = make();
  ASSERT_TRUE(d);
  const TimePoint target = from_unix(2'000'000'000);
  ASSERT_OK(d->set_clock(target));
  EXPECT_LE(std::chrono::abs(d->clock().now() - target), Seconds(2));
  d.reset();
  clock_.set_offset_seconds(0);
  d = make();
  ASSERT_TRUE(d);
  EXPECT_LE(std::chrono::abs(d->clock().now() - target), Seconds(5));
}

TEST_F(DeviceTest, CorruptClockOffsetIsAnError) {
  ASSERT_OK(fs::make_dirs(tmp_.file("nvram")));
  ASSERT_OK(fs::write_atomic(tmp_.file("nvram/clock-offset"), "yesterday\n"));
  auto d = Device::create({tmp_.file("nvram"), "", "master"}, clock_);
  EXPECT_CODE(d, Code::kInvalidArgument);
}

TEST_F(DeviceTest, WrongMasterPassphraseFailsCreate) {
  {
    auto d = make("right");
    ASSERT_TRUE(d);
    ASSERT_OK(d->keys().put({"k", testing::shared_ca_key()}));
  }
  EXPECT_CODE(Device::create({tmp_.file("nvram"), "", "wrong"}, clock_), Code::kPermissionDenied);
}

TEST_F(DeviceTest, TickDrivesEveryServer) {
  auto d = make();
  ASSERT_TRUE(d);
  auto s = d->create_server("a");
  ASSERT_OK(s);
  ServerConfig c = (*s)->config();
  c.archive_enabled = false;
  c.locations.primary = tmp_.file("blocked");
  ASSERT_OK(fs::write_atomic(tmp_.file("blocked"), "file"));
  ASSERT_OK((*s)->set_config(c));
  EXPECT_FALSE((*s)->enable({}).has_value());
  std::filesystem::remove(tmp_.file("blocked"));
  std::filesystem::create_directory(tmp_.file("blocked"));
  d->tick();
  EXPECT_EQ((*s)->state(), ServerState::kEnabled);
}

// After a rollover switch the last checkpoint is by a certificate the device no longer
// holds; the next tick signs one with the new certificate at once, not at the next
// interval, so `verify audit` vouches for the log right away.
TEST_F(DeviceTest, ARolloverSwitchIsCheckpointedAtOnce) {
  FakeClock clock(from_unix(1'800'000'000));
  DeviceOptions options{tmp_.file("nvram"), "", "master"};
  options.audit_checkpoint_every = Seconds(24 * 3600);
  auto d = Device::create(options, clock);
  ASSERT_OK(d);
  auto s = (*d)->create_server("a");
  ASSERT_OK(s);
  ServerConfig c = (*s)->config();
  c.archive_enabled = false;
  ASSERT_OK((*s)->set_config(c));
  ASSERT_OK((*s)->enable({}));
  (*d)->audit().record({"command", "admin", "a", "no shutdown", "ok"});
  (*d)->tick();  // the first checkpoint, by the current certificate
  auto first = verify_audit((*d)->audit_log_path(), (*d)->audit_signers());
  ASSERT_OK(first);
  ASSERT_EQ(first->checkpoints, 1u);
  const pki::Certificate old = *(*s)->info().ca_certificate;
  ASSERT_OK((*s)->start_rollover());
  clock.set(old.not_after() + Seconds(1));
  for (int i = 0; i < 5 && (*s)->info().ca_certificate == old; ++i) (*d)->tick();
  for (int i = 0; i < 5 && (*s)->state() != ServerState::kEnabled; ++i) (*d)->tick();
  ASSERT_EQ((*s)->state(), ServerState::kEnabled);
  ASSERT_NE(*(*s)->info().ca_certificate, old);
  (*d)->tick();
  auto after = verify_audit((*d)->audit_log_path(), (*d)->audit_signers());
  ASSERT_OK(after);
  EXPECT_FALSE(after->bad_line.has_value()) << after->problem;
  EXPECT_EQ(after->unsigned_tail, 0u);
  auto records = read_audit((*d)->audit_log_path());
  ASSERT_OK(records);
  EXPECT_TRUE(std::any_of(records->begin(), records->end(),
                          [](const AuditRecord& r) { return r.event == "rollover"; }));
}

}  // namespace
}  // namespace scepter::ca
