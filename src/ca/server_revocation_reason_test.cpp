// `crypto pki server LABEL revoke SERIAL reason KEYWORD`: the RFC 5280 CRLReason is
// recorded with the revocation and carried by the CRL entry, also after a restart.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::make_csr_der;
using testing::ServerHarness;

constexpr int kKeyCompromise = 1;
constexpr int kSuperseded = 4;

class RevocationReasonTest : public ::testing::Test {
 protected:
  void enable() { ASSERT_OK(h_.server().enable({})); }
  // Enabled with grant auto, and certificates 2 and 3 issued.
  void enable_with_two() {
    enable();
    ASSERT_OK(h_.set([](ServerConfig& c) { c.grant = GrantMode::kAuto; }));
    for (const char* subject : {"CN=a", "CN=b"}) {
      auto out = h_.server().submit(make_csr_der(subject), RequestSource::kManualPem);
      ASSERT_OK(out);
      ASSERT_TRUE(out->certificate.has_value());
    }
  }
  // The reason of each CRL entry, in CRL order.
  std::vector<std::optional<int>> crl_reasons() {
    std::vector<std::optional<int>> out;
    auto crl = h_.server().current_crl();
    EXPECT_OK(crl);
    if (crl.has_value()) {
      for (const auto& e : crl->info.entries) out.push_back(e.reason);
    }
    return out;
  }
  std::optional<int> reason_in_database(std::uint64_t serial) {
    std::optional<int> reason;
    EXPECT_OK(h_.server().for_each_certificate([&](const store::CertRecord& c) {
      if (c.serial == serial) reason = c.revocation_reason;
      return true;
    }));
    return reason;
  }

  ServerHarness h_;
};

TEST_F(RevocationReasonTest, TheCrlEntryCarriesTheReason) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2, kKeyCompromise));
  ASSERT_OK(h_.server().revoke(3));
  EXPECT_EQ(reason_in_database(2), kKeyCompromise);
  EXPECT_FALSE(reason_in_database(3).has_value());
  EXPECT_EQ(crl_reasons(), (std::vector<std::optional<int>>{kKeyCompromise, std::nullopt}));
}

// RFC 5280: unspecified SHOULD be absent from the entry. The database keeps what was said.
TEST_F(RevocationReasonTest, UnspecifiedIsRecordedButNotListed) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2, pki::kCrlReasonUnspecified));
  EXPECT_EQ(reason_in_database(2), pki::kCrlReasonUnspecified);
  EXPECT_EQ(crl_reasons(), (std::vector<std::optional<int>>{std::nullopt}));
}

TEST_F(RevocationReasonTest, ARestartRefillsTheReasons) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2, kKeyCompromise));
  ASSERT_OK(h_.server().revoke(3, kSuperseded));

  // A restart refills the CRL builder from the database (the CRL file is reused).
  h_.make_server(h_.server().config());
  enable();
  h_.clock().advance(60s);
  const auto before = h_.server().crl_der();
  ASSERT_OK(h_.server().unrevoke(3));  // a new CRL from the refilled entries
  ASSERT_NE(*h_.server().crl_der(), *before);
  EXPECT_EQ(crl_reasons(), (std::vector<std::optional<int>>{kKeyCompromise}));
  ASSERT_OK(h_.server().revoke(3, pki::kCrlReasonAaCompromise));
  EXPECT_EQ(crl_reasons(),
            (std::vector<std::optional<int>>{kKeyCompromise, pki::kCrlReasonAaCompromise}));
}

TEST_F(RevocationReasonTest, UnrevokeForgetsTheReason) {
  enable_with_two();
  ASSERT_OK(h_.server().revoke(2, kKeyCompromise));
  ASSERT_OK(h_.server().unrevoke(2));
  EXPECT_FALSE(reason_in_database(2).has_value());
  h_.clock().advance(1h);
  ASSERT_OK(h_.server().revoke(2, kSuperseded));
  EXPECT_EQ(reason_in_database(2), kSuperseded);
  EXPECT_EQ(crl_reasons(), (std::vector<std::optional<int>>{kSuperseded}));
}

TEST_F(RevocationReasonTest, CodesNoEntryCarriesAreRefused) {
  enable_with_two();
  const std::string der = *h_.server().crl_der();
  for (int bad : {-1, 7, pki::kCrlReasonRemoveFromCrl, 11}) {
    EXPECT_CODE(h_.server().revoke(2, bad), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(*h_.server().crl_der(), der);
  ASSERT_OK(h_.server().revoke(2, kKeyCompromise));  // nothing was recorded
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
}

}  // namespace
}  // namespace scepter::ca
