// `crypto pki server LABEL unrevoke SERIAL`: a revocation taken back, and the CRL
// published again without it.
#include <gtest/gtest.h>

#include <filesystem>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::make_csr_der;
using testing::ServerHarness;

class UnrevokeTest : public ::testing::Test {
 protected:
  void enable() { ASSERT_OK(h_.server().enable({})); }
  void issue(const std::string& subject) {
    auto out = h_.server().submit(make_csr_der(subject), RequestSource::kManualPem);
    ASSERT_OK(out);
    ASSERT_TRUE(out->certificate.has_value());
  }
  // Enabled with grant auto, and certificates 2 and 3 issued.
  void enable_with_two() {
    enable();
    ASSERT_OK(h_.set([](ServerConfig& c) { c.grant = GrantMode::kAuto; }));
    issue("CN=a");
    issue("CN=b");
  }
  std::vector<std::uint64_t> crl_sequences() {
    std::vector<std::uint64_t> out;
    auto crl = h_.server().current_crl();
    EXPECT_OK(crl);
    if (crl.has_value()) {
      for (const auto& e : crl->info.entries) out.push_back(e.serial.sequence);
    }
    return out;
  }
  std::uint64_t crl_number() {
    auto crl = h_.server().current_crl();
    EXPECT_OK(crl);
    return crl.has_value() ? crl->info.crl_number.value_or(0) : 0;
  }
  bool revoked_in_database(std::uint64_t serial) {
    bool revoked = false;
    EXPECT_OK(h_.server().for_each_certificate([&](const store::CertRecord& c) {
      if (c.serial == serial) revoked = c.revoked_at.has_value();
      return true;
    }));
    return revoked;
  }

  ServerHarness h_;
};

TEST_F(UnrevokeTest, TakesTheCertificateOffTheCrl) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2));
  ASSERT_OK(h_.server().revoke(3));
  const std::uint64_t before = crl_number();
  EXPECT_EQ(crl_sequences(), (std::vector<std::uint64_t>{2, 3}));

  h_.clock().advance(60s);
  ASSERT_OK(h_.server().unrevoke(3));
  EXPECT_FALSE(revoked_in_database(3));
  EXPECT_TRUE(revoked_in_database(2));
  auto after = h_.server().current_crl();
  ASSERT_OK(after);
  EXPECT_EQ(crl_sequences(), std::vector<std::uint64_t>{2});
  EXPECT_GT(crl_number(), before);
  EXPECT_EQ(after->info.this_update, h_.clock().now());
  EXPECT_EQ(*fs::read_file(h_.file("ca.crl")), after->der);

  // The last one too: the CRL is then empty.
  ASSERT_OK(h_.server().unrevoke(pki::SerialNumber{2}));
  EXPECT_TRUE(crl_sequences().empty());
}

TEST_F(UnrevokeTest, RevokeWorksAgainAndSurvivesARestart) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2));
  ASSERT_OK(h_.server().unrevoke(2));
  h_.clock().advance(1h);
  ASSERT_OK(h_.server().revoke(2));
  auto crl = h_.server().current_crl();
  ASSERT_OK(crl);
  ASSERT_EQ(crl->info.entries.size(), 1u);
  EXPECT_EQ(crl->info.entries[0].revoked_at, h_.clock().now());  // the new date
  ASSERT_OK(h_.server().unrevoke(2));
  const std::uint64_t number = crl_number();

  // A restart rebuilds the CRL from the database: nothing comes back.
  h_.make_server(h_.server().config());
  enable();
  EXPECT_TRUE(crl_sequences().empty());
  EXPECT_GE(crl_number(), number);
  EXPECT_FALSE(revoked_in_database(2));
}

TEST_F(UnrevokeTest, RefusesWhatIsNotRevoked) {
  enable_with_two();
  const std::uint64_t number = crl_number();
  const std::string der = *h_.server().crl_der();
  EXPECT_CODE(h_.server().unrevoke(2), Code::kInvalidArgument);
  EXPECT_CODE(h_.server().unrevoke(1), Code::kInvalidArgument);  // the CA certificate
  EXPECT_CODE(h_.server().unrevoke(99), Code::kNotFound);
  ASSERT_OK(h_.server().revoke(2));
  ASSERT_OK(h_.server().unrevoke(2));
  EXPECT_CODE(h_.server().unrevoke(2), Code::kInvalidArgument);  // not twice
  EXPECT_GT(crl_number(), number);
  EXPECT_NE(*h_.server().crl_der(), der);
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
}

TEST_F(UnrevokeTest, RefusedWhileNotEnabled) {
  EXPECT_CODE(h_.server().unrevoke(2), Code::kUnavailable);
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2));
  h_.server().shutdown();
  EXPECT_CODE(h_.server().unrevoke(2), Code::kUnavailable);
  enable();
  ASSERT_OK(h_.server().unrevoke(2));
}

// Under `hash sha1` the whole serial names the certificate too; a wrong random part names
// nothing, as for revoke.
TEST_F(UnrevokeTest, WholeSerials) {
  enable();
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.grant = GrantMode::kAuto;
    c.hash = pki::Hash::kSha1;
  }));
  auto out = h_.server().submit(make_csr_der("CN=a"), RequestSource::kManualPem);
  ASSERT_OK(out);
  ASSERT_TRUE(out->certificate.has_value());
  auto whole = out->certificate->serial();
  ASSERT_OK(whole);
  ASSERT_TRUE(whole->entropy.has_value());
  ASSERT_OK(h_.server().revoke(*whole));
  EXPECT_CODE(h_.server().unrevoke(pki::SerialNumber{2, *whole->entropy ^ 1}), Code::kNotFound);
  ASSERT_OK(h_.server().unrevoke(*whole));
  EXPECT_TRUE(crl_sequences().empty());
  ASSERT_OK(h_.server().revoke(*whole));
  ASSERT_OK(h_.server().unrevoke(2));  // by the sequence number
  EXPECT_TRUE(crl_sequences().empty());
}

// As for revoke: the change is durable, a CRL that cannot be written stops the server,
// and the CRL written once storage is back does not list the certificate.
TEST_F(UnrevokeTest, CrlWriteFailureDisablesUntilFixed) {
  const std::string crls = h_.dir().path() + "/crls";
  ASSERT_OK(fs::make_dirs(crls));
  ASSERT_OK(h_.set([&](ServerConfig& c) { c.locations.storage[files::FileType::kCrl] = crls; }));
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2));
  std::filesystem::rename(crls, crls + ".away");
  ASSERT_OK(fs::write_atomic(crls, "in the way"));
  EXPECT_CODE(h_.server().unrevoke(2), Code::kUnavailable);
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  EXPECT_FALSE(revoked_in_database(2));

  std::filesystem::remove(crls);
  std::filesystem::rename(crls + ".away", crls);
  h_.server().tick();
  ASSERT_EQ(h_.server().state(), ServerState::kEnabled) << h_.server().reason();
  EXPECT_TRUE(crl_sequences().empty());
  EXPECT_EQ(*fs::read_file(crls + "/ca.crl"), h_.server().current_crl()->der);
}

// A CA moved here (`serial-number`): the revocations of its old CRL are foreign ones, and
// unrevoke takes them back as revoke adds them.
TEST_F(UnrevokeTest, ForeignRevocations) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2));
  ASSERT_OK(h_.server().revoke(3));
  // Moved: the same key, CA certificate and CRL, but no database.
  h_.server().shutdown();
  for (const auto& e : std::filesystem::directory_iterator(h_.dir().path())) {
    if (e.path().filename().string().starts_with("ca.ser")) std::filesystem::remove(e.path());
  }
  ASSERT_OK(h_.set([](ServerConfig& c) { c.serial_number_above = 5; }));
  enable();
  EXPECT_EQ(crl_sequences(), (std::vector<std::uint64_t>{2, 3}));
  const std::uint64_t number = crl_number();

  ASSERT_OK(h_.server().unrevoke(3));
  EXPECT_EQ(crl_sequences(), std::vector<std::uint64_t>{2});
  EXPECT_GT(crl_number(), number);
  EXPECT_CODE(h_.server().unrevoke(3), Code::kInvalidArgument);
  EXPECT_CODE(h_.server().unrevoke(4), Code::kInvalidArgument);  // issued there, not revoked
  EXPECT_CODE(h_.server().unrevoke(9), Code::kNotFound);         // above serial-number
  ASSERT_OK(h_.server().revoke(4));
  ASSERT_OK(h_.server().unrevoke(2));
  EXPECT_EQ(crl_sequences(), std::vector<std::uint64_t>{4});

  h_.make_server(h_.server().config());
  enable();
  EXPECT_EQ(crl_sequences(), std::vector<std::uint64_t>{4});
}

}  // namespace
}  // namespace scepter::ca
