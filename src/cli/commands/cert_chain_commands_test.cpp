// crypto pki certificate chain NAME: the trustpoint's certificates, current and rollover,
// for a root certificate server and for a trustpoint enrolled with a CA (a fake one; the
// real SCEP client is tested over HTTP in scep/ and end to end in tests/integration).
#include <gtest/gtest.h>

#include "ca/fake_upstream.h"
#include "cli/commands/more_commands_testing.h"

namespace scepter::cli {
namespace {

std::string serial(const pki::Certificate& cert) {
  std::string s = cert.serial_hex();
  return s.size() % 2 ? "0" + s : s;
}

class CertChainCommandsTest : public testing::MoreCommandsTest {};

TEST_F(CertChainCommandsTest, ARootServerListsItsCaCertificateAndItsShadow) {
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  const pki::Certificate ca = *server->info().ca_certificate;
  ASSERT_TRUE(exec("configure terminal").ok);
  Reply r = exec("crypto pki certificate chain mycs");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "certificate ca " + serial(ca) + "\n");
  EXPECT_EQ(session_->prompt(), "Router(config-cert-chain)#");
  ASSERT_TRUE(exec("exit").ok);

  ASSERT_TRUE(exec("crypto pki server mycs rollover").ok);
  const pki::Certificate shadow = *server->rollover_certificate();
  EXPECT_EQ(exec("crypto pki certificate chain mycs").output,
            "certificate ca " + serial(ca) + "\ncertificate rollover ca " + serial(shadow) + "\n");
}

TEST_F(CertChainCommandsTest, AnEnrolledTrustpointListsItsRolloverCertificates) {
  auto upstream =
      std::make_shared<ca::testing::FakeUpstream>(*pki::Key::generate_ec(256), SystemClock().now());
  dev_.set_upstream(upstream);
  new_session();
  run("configure terminal\n"
      "crypto pki trustpoint tp\n"
      " enrollment url http://127.0.0.1:1\n"
      " subject-name CN=r1, O=Example\n"
      " rsakeypair r1key 1024\n"
      "end\n"
      "configure terminal\n"
      "crypto pki authenticate tp\n"
      "yes\n"
      "end");
  ca::TrustpointClient& client = dev_.device().enrollment();
  const ca::TrustpointConfig tp = *dev_.device().trustpoint("tp");
  ca::EnrollOptions options;
  options.key_bits = 1024;
  auto enrolled = client.enroll(tp, options, "Router");
  ASSERT_TRUE(enrolled.has_value()) << enrolled.error().to_string();
  const pki::Certificate own = *client.state("tp")->certificate;
  ASSERT_TRUE(exec("configure terminal").ok);
  EXPECT_EQ(
      exec("crypto pki certificate chain tp").output,
      "certificate " + serial(own) + "\ncertificate ca " + serial(upstream->ca_cert()) + "\n");

  // The CA rolls over, and the trustpoint is certified under its next certificate.
  ASSERT_TRUE(exec("end").ok);
  upstream->roll_over(*pki::Key::generate_ec(256));
  auto rolled = client.enroll_rollover(tp, options, "r1key.rollover");
  ASSERT_TRUE(rolled.has_value()) << rolled.error().to_string();
  const auto state = client.state("tp");
  ASSERT_TRUE(state->rollover_certificate.has_value()) << state->last_error;
  ASSERT_TRUE(state->next_ca.has_value());
  ASSERT_TRUE(exec("configure terminal").ok);
  // As the guide's example: the current certificates, then the rollover ones.
  EXPECT_EQ(exec("crypto pki certificate chain tp").output,
            "certificate " + serial(own) + "\ncertificate ca " + serial(upstream->ca_cert()) +
                "\ncertificate rollover " + serial(*state->rollover_certificate) +
                "\ncertificate rollover ca " + serial(*upstream->next_ca_cert()) + "\n");
}

TEST_F(CertChainCommandsTest, CertificatesAreNeitherEnteredNorRemovedHere) {
  ASSERT_TRUE(exec("configure terminal").ok);
  EXPECT_EQ(exec("crypto pki certificate chain nosuch").output,
            "% Trustpoint nosuch does not exist.\n");
  EXPECT_EQ(session_->prompt(), "Router(config)#");
  ASSERT_TRUE(exec("crypto pki trustpoint tp").ok);
  ASSERT_TRUE(exec("exit").ok);
  Reply r = exec("crypto pki certificate chain tp");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.output, "");
  r = exec("certificate ca 01");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output,
            "% Scepter keeps certificates in the trustpoint's store, not as hex in the "
            "configuration: use crypto pki authenticate for a CA certificate, crypto pki enroll "
            "or crypto pki import for the trustpoint's own.\n");
  r = exec("no certificate 01");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output,
            "% Certificates are not removed one by one: no crypto pki trustpoint tp removes the "
            "trustpoint with its certificates.\n");
  EXPECT_EQ(session_->prompt(), "Router(config-cert-chain)#");
  ASSERT_TRUE(exec("end").ok);
  EXPECT_EQ(session_->prompt(), "Router#");
}

}  // namespace
}  // namespace scepter::cli
