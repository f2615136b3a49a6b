#include "ca/device.h"

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
  ASSERT_EQ(d->trustpoints().count("mycs"), 1u);
  EXPECT_EQ(d->trustpoints()["mycs"].rsakeypair, "mycs");
  EXPECT_EQ(d->trustpoints()["mycs"].revocation_check, "crl");

  ServerConfig c = (*s)->config();
  c.archive_password = "archive-password";
  ASSERT_OK((*s)->set_config(c));
  ASSERT_OK((*s)->enable({}));
  EXPECT_TRUE(d->keys().get("mycs").has_value());
  EXPECT_TRUE(fs::exists(tmp_.file("nvram/mycs#1CA.cer")));

  ASSERT_OK(d->delete_server("mycs"));
  EXPECT_EQ(d->server("mycs"), nullptr);
  EXPECT_EQ((*s)->state(), ServerState::kDisabled);
  EXPECT_EQ(d->trustpoints().count("mycs"), 0u);
  EXPECT_FALSE(d->keys().get("mycs").has_value());
  EXPECT_FALSE(fs::exists(tmp_.file("nvram/mycs#1CA.cer")));
  EXPECT_FALSE(fs::exists(tmp_.file("nvram/private-keys/mycs.key")));
  EXPECT_CODE(d->delete_server("mycs"), Code::kNotFound);
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

}  // namespace
}  // namespace scepter::ca
