// Exec commands of a certificate server: `revoke` (with its reasons) and `unrevoke`, their
// messages and help.
#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

class CsExecCommandsTest : public testing::MoreCommandsTest {
 protected:
  // Server mycs, enabled with grant auto, and certificates 2 and 3 issued.
  void SetUp() override {
    server_ = enabled_server("mycs");
    ASSERT_NE(server_, nullptr);
    ca::ServerConfig cfg = server_->config();
    cfg.grant = ca::GrantMode::kAuto;
    ASSERT_TRUE(server_->set_config(cfg).ok());
    for (const char* subject : {"CN=a", "CN=b"}) {
      auto name = pki::parse_dn(subject);
      auto key = pki::Key::generate_ec(256);
      auto csr = pki::make_csr({.subject = name->get(), .key = *key});
      ASSERT_TRUE(csr.has_value());
      auto out = server_->submit(csr->der(), ca::RequestSource::kManualPem);
      ASSERT_TRUE(out.has_value() && out->certificate.has_value());
    }
  }
  std::size_t crl_entries() { return server_->current_crl()->info.entries.size(); }

  std::shared_ptr<ca::CertificateServer> server_;
};

TEST_F(CsExecCommandsTest, RevokeAndUnrevoke) {
  EXPECT_EQ(run("crypto pki server mycs revoke 0x2\n"
                "crypto pki server mycs revoke 2\n"
                "crypto pki server mycs unrevoke 0x2\n"
                "crypto pki server mycs unrevoke 2\n"
                "crypto pki server mycs unrevoke 0x3\n"
                "crypto pki server mycs unrevoke 0x10\n"
                "crypto pki server nosuch unrevoke 2\n"),
            "Router#crypto pki server mycs revoke 0x2\n"
            "Router#crypto pki server mycs revoke 2\n"
            "% Certificate with serial number 0x2 is already revoked.\n"
            "Router#crypto pki server mycs unrevoke 0x2\n"
            "Router#crypto pki server mycs unrevoke 2\n"
            "% Certificate with serial number 0x2 is not revoked.\n"
            "Router#crypto pki server mycs unrevoke 0x3\n"
            "% Certificate with serial number 0x3 is not revoked.\n"
            "Router#crypto pki server mycs unrevoke 0x10\n"
            "% Certificate with serial number 0x10 was not issued by this server.\n"
            "Router#crypto pki server nosuch unrevoke 2\n"
            "% Certificate server nosuch does not exist.\n");
  EXPECT_EQ(crl_entries(), 0u);
  // The same serial forms as revoke: octal, and revoked again afterwards.
  EXPECT_TRUE(exec("crypto pki server mycs revoke 03").ok);
  EXPECT_EQ(crl_entries(), 1u);
  EXPECT_TRUE(exec("crypto pki server mycs unrevoke 03").ok);
  EXPECT_EQ(crl_entries(), 0u);
  EXPECT_TRUE(exec("crypto pki server mycs revoke 3").ok);
  EXPECT_EQ(crl_entries(), 1u);
}

TEST_F(CsExecCommandsTest, UnrevokeSyntaxAndHelp) {
  // The marker is under the serial: "Router#" and the words before it.
  const std::string before = "Router#crypto pki server mycs unrevoke ";
  const std::string marker =
      std::string(before.size(), ' ') + "^\n% Invalid input detected at '^' marker.\n";
  EXPECT_EQ(exec("crypto pki server mycs unrevoke 0xZZ").output, marker);
  EXPECT_EQ(exec("crypto pki server mycs unrevoke").output, "% Incomplete command.\n");
  const std::string verbs = session_->help("crypto pki server mycs ");
  EXPECT_NE(verbs.find("unrevoke"), std::string::npos) << verbs;
  EXPECT_NE(verbs.find("Unrevoke a certificate"), std::string::npos) << verbs;
  const std::string serial = session_->help("crypto pki server mycs unrevoke ");
  EXPECT_NE(serial.find("Serial number: 0x<hex>, 0<octal> or decimal"), std::string::npos)
      << serial;
}

// `revoke SERIAL reason KEYWORD`: the CRL entry carries the RFC 5280 reasonCode, and
// `show crypto pki server LABEL crl` names it.
TEST_F(CsExecCommandsTest, RevokeWithAReason) {
  EXPECT_EQ(run("crypto pki server mycs revoke 0x2 reason keyCompromise\n"
                "crypto pki server mycs revoke 3 r sup\n"),
            "Router#crypto pki server mycs revoke 0x2 reason keyCompromise\n"
            "Router#crypto pki server mycs revoke 3 r sup\n");
  auto crl = server_->current_crl();
  ASSERT_TRUE(crl.has_value());
  ASSERT_EQ(crl->info.entries.size(), 2u);
  EXPECT_EQ(crl->info.entries[0].reason, 1);  // keyCompromise
  EXPECT_EQ(crl->info.entries[1].reason, 4);  // superseded
  const std::string shown = exec("show crypto pki server mycs crl").output;
  EXPECT_NE(shown.find("    Revocation Date: "), std::string::npos) << shown;
  EXPECT_NE(shown.find("    Reason Code: keyCompromise\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("    Reason Code: superseded\n"), std::string::npos) << shown;

  // Unspecified is accepted and, as RFC 5280 asks, left out of the entry.
  ASSERT_TRUE(exec("crypto pki server mycs unrevoke 2").ok);
  ASSERT_TRUE(exec("crypto pki server mycs revoke 2 reason unspecified").ok);
  crl = server_->current_crl();
  ASSERT_TRUE(crl.has_value());
  ASSERT_EQ(crl->info.entries.size(), 2u);
  EXPECT_FALSE(crl->info.entries[1].reason.has_value());
}

TEST_F(CsExecCommandsTest, RevokeReasonSyntaxAndHelp) {
  const std::string before = "Router#crypto pki server mycs revoke 2 reason ";
  const std::string marker =
      std::string(before.size(), ' ') + "^\n% Invalid input detected at '^' marker.\n";
  EXPECT_EQ(exec("crypto pki server mycs revoke 2 reason bogus").output, marker);
  // removeFromCRL only exists in delta CRLs.
  EXPECT_EQ(exec("crypto pki server mycs revoke 2 reason removeFromCRL").output, marker);
  EXPECT_EQ(exec("crypto pki server mycs revoke 2 reason").output, "% Incomplete command.\n");
  EXPECT_EQ(crl_entries(), 0u);  // nothing was revoked

  const std::string after_serial = session_->help("crypto pki server mycs revoke 2 ");
  EXPECT_NE(after_serial.find("reason"), std::string::npos) << after_serial;
  EXPECT_NE(after_serial.find("Why it is revoked (RFC 5280 CRLReason)"), std::string::npos)
      << after_serial;
  EXPECT_NE(after_serial.find("<cr>"), std::string::npos) << after_serial;
  const std::string reasons = session_->help("crypto pki server mycs revoke 2 reason ");
  for (const char* keyword :
       {"unspecified", "keycompromise", "cacompromise", "affiliationchanged", "superseded",
        "cessationofoperation", "certificatehold", "privilegewithdrawn", "aacompromise"}) {
    EXPECT_NE(reasons.find(keyword), std::string::npos) << keyword << "\n" << reasons;
  }
  EXPECT_NE(reasons.find("The certificate's private key was compromised"), std::string::npos)
      << reasons;
  EXPECT_EQ(reasons.find("removefromcrl"), std::string::npos) << reasons;
}

// Not enabled: the same refusal as revoke.
TEST_F(CsExecCommandsTest, UnrevokeNeedsAnEnabledServer) {
  ASSERT_TRUE(exec("crypto pki server mycs revoke 2").ok);
  server_->shutdown();
  EXPECT_EQ(exec("crypto pki server mycs unrevoke 2").output,
            "% The certificate server is not enabled.\n");
}

}  // namespace
}  // namespace scepter::cli
