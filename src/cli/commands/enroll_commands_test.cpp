// crypto pki authenticate / enroll with their IOS dialogues, against a fake CA (the real
// SCEP client is tested over HTTP in scep/ and end to end in tests/integration).
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ca/fake_upstream.h"
#include "cli/commands/more_commands_testing.h"
#include "common/clock.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

using ca::testing::FakeUpstream;

// The block `show crypto pki certificates` prints for FakeUpstream's CA certificate (serial
// 1, cn=upstream) held by `trustpoint`, with the blank line after it.
std::string upstream_ca_block(const pki::Certificate& ca, const std::string& trustpoint) {
  return "CA Certificate\n"
         "  Status: Available\n"
         "  Certificate Serial Number (hex): 01\n"
         "  Certificate Usage: Signature\n"
         "  Issuer: \n"
         "    cn=upstream\n"
         "  Subject: \n"
         "    cn=upstream\n"
         "  Validity Date: \n"
         "    start date: " +
         format_ios_time(ca.not_before()) +
         "\n"
         "    end   date: " +
         format_ios_time(ca.not_after()) +
         "\n"
         "  Associated Trustpoints: " +
         trustpoint + " \n\n";
}

class EnrollCommandsTest : public testing::MoreCommandsTest {
 protected:
  EnrollCommandsTest() {
    dev_.set_upstream(upstream_);
    new_session();
    run("configure terminal\n"
        "crypto pki trustpoint tp\n"
        " enrollment url http://127.0.0.1:1\n"
        " subject-name CN=r1, O=Example\n"
        " rsakeypair r1key 1024\n"
        "end");
  }

  std::string fingerprints() const {
    const pki::Certificate& ca = upstream_->ca_cert();
    return "Certificate has the following attributes:\n"
           "  Fingerprint MD5: " +
           pki::ios_fingerprint(ca.md5_fingerprint()) +
           "\n"
           "  Fingerprint SHA1: " +
           pki::ios_fingerprint(ca.sha1_fingerprint()) + "\n";
  }

  std::shared_ptr<FakeUpstream> upstream_ =
      std::make_shared<FakeUpstream>(*pki::Key::generate_ec(256), SystemClock().now());
};

TEST_F(EnrollCommandsTest, AuthenticateShowsTheFingerprintAndAsks) {
  EXPECT_EQ(run("configure terminal\ncrypto pki authenticate tp\nno\nend"),
            "Router#configure terminal\n"
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "Router(config)#crypto pki authenticate tp\n" +
                fingerprints() +
                "% Do you accept this certificate? [yes/no]: no\n"
                "% Certificate not accepted by user.\n"
                "Router(config)#end\n");
  EXPECT_FALSE(dev_.device().enrollment().state("tp").has_value());
  std::string out = run("configure terminal\ncrypto pki authenticate tp\nyes\nend");
  EXPECT_NE(out.find("[yes/no]: yes\nTrustpoint CA certificate accepted.\n"), std::string::npos)
      << out;
  auto state = dev_.device().enrollment().state("tp");
  ASSERT_TRUE(state && state->ca);
  EXPECT_EQ(state->ca->issuing_ca(), upstream_->ca_cert());
}

TEST_F(EnrollCommandsTest, AuthenticateErrors) {
  EXPECT_EQ(exec("configure terminal").output.empty(), false);
  EXPECT_EQ(exec("crypto pki authenticate nope").output, "% Trustpoint nope does not exist.\n");
  run("crypto pki trustpoint bare\nexit");
  EXPECT_EQ(exec("crypto pki authenticate bare").output,
            "% You must specify an enrollment URL for this CA before you can authenticate it.\n");
  upstream_->set_fallback(FakeUpstream::Answer::kDown);
  EXPECT_EQ(exec("crypto pki authenticate tp").output,
            "% Error in receiving Certificate Authority certificate: cannot reach the fake CA\n"
            "% Failed to authenticate the Certificate Authority\n");
}

TEST_F(EnrollCommandsTest, EnrollDialogueAndCertificate) {
  run("configure terminal\ncrypto pki authenticate tp\nyes\nend");
  std::string out =
      run("configure terminal\n"
          "crypto pki enroll tp\n"
          "challenge1\nchallenge1\n"
          "no\n"  // serial number
          "yes\n"
          "192.0.2.7\n"
          "yes\n"
          "end");
  EXPECT_NE(out.find("% Start certificate enrollment ..\n"), std::string::npos) << out;
  EXPECT_NE(out.find("% The subject name in the certificate will include: CN=r1, O=Example\n"
                     "% The subject name in the certificate will include: Router\n"
                     "% Include the router serial number in the subject name? [yes/no]: no\n"
                     "% Include an IP address in the subject name? [no]: yes\n"
                     "Enter IP Address[]: 192.0.2.7\n"
                     "Request certificate from CA? [yes/no]: yes\n"
                     "% Certificate request sent to Certificate Authority\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("%PKI-6-CERTRET: Certificate received from Certificate Authority\n"),
            std::string::npos)
      << out;
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_EQ(pki::format_dn_ios(csr->subject()),
            "hostname=Router+ipaddress=192.0.2.7,cn=r1,o=Example");
  EXPECT_EQ(csr->challenge_password().value_or(""), "challenge1");
  EXPECT_EQ(csr->key_bits(), 1024);  // rsakeypair r1key 1024: generated at enrolment
  ASSERT_TRUE(dev_.device().keys().get("r1key").has_value());

  std::string status = exec("show crypto pki trustpoints tp status").output;
  EXPECT_NE(status.find("  Router General Purpose certificate configured:\n"), std::string::npos)
      << status;
  EXPECT_NE(status.find("    Certificate request(s) ..... Yes\n"), std::string::npos) << status;
  auto state = dev_.device().enrollment().state("tp");
  ASSERT_TRUE(state && state->certificate);
  const pki::Certificate& mine = *state->certificate;
  const pki::Certificate& ca = upstream_->ca_cert();
  // The 15.x / IOS-XE layout: one RDN a line, the identity lines above the subject.
  const std::string listing =
      "Certificate\n"
      "  Status: Available\n"
      "  Certificate Serial Number (hex): " +
      even_hex(mine.serial_hex()) +
      "\n"
      "  Certificate Usage: General Purpose\n"
      "  Issuer: \n"
      "    cn=upstream\n"
      "  Subject:\n"
      "    Name: Router\n"
      "    IP Address: 192.0.2.7\n"
      "    hostname=Router+ipaddress=192.0.2.7\n"
      "    cn=r1\n"
      "    o=Example\n"
      "  Validity Date: \n"
      "    start date: " +
      format_ios_time(mine.not_before()) +
      "\n"
      "    end   date: " +
      format_ios_time(mine.not_after()) +
      "\n"
      "  Associated Trustpoints: tp \n"
      "\n" +
      upstream_ca_block(ca, "tp");
  EXPECT_EQ(exec("show crypto pki certificates tp").output, listing);
  EXPECT_EQ(exec("show crypto pki certificates").output, listing);
  EXPECT_EQ(exec("show crypto pki certificates other").output, "");
  EXPECT_EQ(exec("show crypto pki trustpoints tp").output,
            "Trustpoint tp:\n"
            "    Subject Name:\n"
            "    cn=upstream\n"
            "          Serial Number (hex): 01\n"
            "    Certificate configured.\n"
            "    SCEP URL: http://127.0.0.1:1/cgi-bin\n"
            "    Enrollment Protocol:\n"
            "      SCEPv1\n");
  // A URL with a path is shown as typed; without one, with "/cgi-bin".
  for (const auto& [url, shown] : std::vector<std::pair<std::string, std::string>>{
           {"http://127.0.0.1:1/", "http://127.0.0.1:1/cgi-bin"},
           {"http://127.0.0.1:1/scep", "http://127.0.0.1:1/scep"},
           {"HTTP://[2001:DB8::1]", "HTTP://[2001:DB8::1]/cgi-bin"}}) {
    run("configure terminal\ncrypto pki trustpoint tp\nenrollment url " + url + "\nend");
    EXPECT_NE(exec("show crypto pki trustpoints tp").output.find("    SCEP URL: " + shown + "\n"),
              std::string::npos)
        << url;
  }
  run("configure terminal\ncrypto pki trustpoint tp\nenrollment url http://127.0.0.1:1\nend");

  // Kept across a restart of the daemon.
  dev_.reopen();
  new_session();
  run("configure terminal\ncrypto pki trustpoint tp\nend");  // the startup-config's part
  status = exec("show crypto pki trustpoints tp status").output;
  EXPECT_NE(status.find("    Certificate request(s) ..... Yes\n"), std::string::npos) << status;
}

// Without rsakeypair, IOS enrols the router's default key, named after its FQDN, which
// is also the subject's unstructuredName.
TEST_F(EnrollCommandsTest, DefaultKeyAndSubjectAreTheFqdn) {
  run("configure terminal\n"
      "hostname r1\n"
      "ip domain name example.com\n"
      "crypto pki trustpoint dflt\n"
      " enrollment url http://127.0.0.1:1\n"
      "exit\n"
      "crypto pki authenticate dflt\nyes\n"
      "end");
  std::string out = run("configure terminal\ncrypto pki enroll dflt\n\n\nno\n\nyes\nend");
  EXPECT_NE(out.find("% The subject name in the certificate will include: r1.example.com\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("% Certificate request sent to Certificate Authority\n"), std::string::npos)
      << out;
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_EQ(pki::format_dn_ios(csr->subject()), "hostname=r1.example.com");
  auto key = dev_.device().keys().get("r1.example.com");
  ASSERT_TRUE(key.has_value());
  EXPECT_FALSE(dev_.device().keys().get("r1").has_value());
  EXPECT_TRUE(key->key.equals_public(csr->public_key()));
}

TEST_F(EnrollCommandsTest, PendingShowsAndCanBeCancelled) {
  run("configure terminal\ncrypto pki authenticate tp\nyes\nend");
  upstream_->script({FakeUpstream::Answer::kPending});
  std::string out = run("configure terminal\ncrypto pki enroll tp\n\n\nno\n\nyes\nend");
  EXPECT_NE(out.find("% Enrollment in progress...\n"), std::string::npos) << out;
  std::string status = exec("show crypto pki trustpoints tp status").output;
  EXPECT_NE(status.find("    Certificate request(s) ..... Pending\n"), std::string::npos) << status;
  // The guide's layout of a request not granted yet, then the CA's certificate.
  auto state = dev_.device().enrollment().state("tp");
  ASSERT_TRUE(state && state->pending);
  const pki::Certificate& ca = upstream_->ca_cert();
  EXPECT_EQ(exec("show crypto pki certificates").output,
            "Certificate\n"
            "  Subject Name\n"
            "    Name: Router\n"
            "    cn=r1\n"
            "    o=Example\n"
            "    Status: Pending\n"
            "    Key Usage: General Purpose\n"
            "    Fingerprint: " +
                pki::ios_fingerprint(state->pending->fingerprint_md5()) +
                "\n"
                "    Associated Trustpoint: tp\n"
                "\n" +
                upstream_ca_block(ca, "tp"));
  exec("configure terminal");
  EXPECT_NE(exec("crypto pki enroll tp").output.find("already waiting for the CA"),
            std::string::npos);
  EXPECT_EQ(exec("no crypto pki enroll tp").output,
            "% Enrollment request for trustpoint tp cancelled.\n");
  EXPECT_EQ(exec("no crypto pki enroll tp").output, "% Trustpoint tp has no request waiting.\n");
}

// A CA certificate two trustpoints hold is listed once, naming both, as on IOS.
TEST_F(EnrollCommandsTest, ASharedCaCertificateIsListedOnce) {
  run("configure terminal\n"
      "crypto pki trustpoint tp2\n"
      " enrollment url http://127.0.0.1:1/scep\n"
      " exit\n"
      "crypto pki authenticate tp\nyes\n"
      "crypto pki authenticate tp2\nyes\n"
      "end");
  const std::string all = exec("show crypto pki certificates").output;
  EXPECT_EQ(all.find("CA Certificate\n"), 0u) << all;
  EXPECT_EQ(all.find("CA Certificate\n", 1), std::string::npos) << all;
  EXPECT_NE(all.find("  Associated Trustpoints: tp tp2 \n"), std::string::npos) << all;
  EXPECT_EQ(exec("show crypto pki certificates tp2").output, all);
  EXPECT_EQ(exec("show crypto pki trustpoints").output,
            "Trustpoint tp:\n"
            "    Subject Name:\n"
            "    cn=upstream\n"
            "          Serial Number (hex): 01\n"
            "    Certificate configured.\n"
            "    SCEP URL: http://127.0.0.1:1/cgi-bin\n"
            "    Enrollment Protocol:\n"
            "      SCEPv1\n"
            "\n"
            "\n"
            "Trustpoint tp2:\n"
            "    Subject Name:\n"
            "    cn=upstream\n"
            "          Serial Number (hex): 01\n"
            "    Certificate configured.\n"
            "    SCEP URL: http://127.0.0.1:1/scep\n"
            "    Enrollment Protocol:\n"
            "      SCEPv1\n");
}

// Usage keys: one request per key, each listed with its usage.
TEST_F(EnrollCommandsTest, UsageKeyRequestsAreListedPerKey) {
  run("configure terminal\n"
      "crypto pki trustpoint tp\n"
      " rsakeypair uk 1024 1024\n"
      " exit\n"
      "crypto pki authenticate tp\nyes\n"
      "end");
  upstream_->script({FakeUpstream::Answer::kPending, FakeUpstream::Answer::kPending});
  run("configure terminal\ncrypto pki enroll tp\n\n\nyes\n\nyes\nend");
  auto state = dev_.device().enrollment().state("tp");
  ASSERT_TRUE(state && state->pending);
  ASSERT_EQ(state->pending->parts.size(), 2u);
  const std::string out = exec("show crypto pki certificates tp").output;
  // The router serial number was asked for: it is shown, each time.
  const std::string head = "Certificate\n  Subject Name\n    Name: Router\n    Serial Number: ";
  const auto first = out.find(head);
  EXPECT_EQ(first, 0u) << out;
  EXPECT_NE(out.find(head, first + 1), std::string::npos) << out;
  for (const auto& part : state->pending->parts) {
    const std::string usage = part.encryption ? "Encryption" : "Signature";
    EXPECT_NE(out.find("    Status: Pending\n"
                       "    Key Usage: " +
                       usage +
                       "\n"
                       "    Fingerprint: " +
                       pki::ios_fingerprint(part.fingerprint_md5) +
                       "\n"
                       "    Associated Trustpoint: tp\n"),
              std::string::npos)
        << out;
  }
}

TEST_F(EnrollCommandsTest, EnrollNeedsAuthenticationAndRejectionIsReported) {
  exec("configure terminal");
  EXPECT_EQ(exec("crypto pki enroll tp").output,
            "% You must authenticate the Certificate Authority before you can enroll with it "
            "(crypto pki authenticate tp).\n");
  run("crypto pki authenticate tp\nyes");
  upstream_->script({FakeUpstream::Answer::kReject});
  std::string out = run("crypto pki enroll tp\n\n\nno\n\nyes");
  EXPECT_NE(out.find("% Certificate enrollment failed: the CA rejected the request: badRequest "
                     "(rejected by the operator)\n"),
            std::string::npos)
      << out;
  std::string status = exec("do show crypto pki trustpoints tp status").output;
  EXPECT_NE(status.find("    Last error ................. the CA rejected the request"),
            std::string::npos)
      << status;
}

TEST_F(EnrollCommandsTest, RsaKeypairSpellingsAndSizeInTheRunningConfig) {
  run("configure terminal\ncrypto pki trustpoint sub\n rsa keypair ms2 2048\nend");
  EXPECT_NE(exec("show running-config").output.find(" rsakeypair ms2 2048\n"), std::string::npos);
  EXPECT_EQ(exec("configure terminal").output.empty(), false);
  run("crypto pki trustpoint sub");
  EXPECT_EQ(exec("rsakeypair small 512").output,
            "% Keys of fewer than 1024 bits cannot be enrolled; use 1024 to 4096.\n");
  EXPECT_EQ(exec("rsakeypair small 2048 512").output,
            "% Keys of fewer than 1024 bits cannot be enrolled; use 1024 to 4096.\n");
  // Two sizes: IOS usage keys, kept as typed.
  EXPECT_EQ(exec("rsakeypair uk 2048 1024").output, "");
  run("end");
  EXPECT_NE(exec("show running-config").output.find(" rsakeypair uk 2048 1024\n"),
            std::string::npos);
}

TEST_F(EnrollCommandsTest, AutoEnrollIsKeptAndEnrolsByItself) {
  run("configure terminal\ncrypto pki trustpoint tp\n auto-enroll 70 regenerate\nend");
  auto tp = dev_.device().trustpoint("tp");
  ASSERT_TRUE(tp.has_value());
  EXPECT_TRUE(tp->auto_enroll);
  EXPECT_EQ(tp->auto_enroll_percent, 70);
  EXPECT_TRUE(tp->auto_enroll_regenerate);
  EXPECT_NE(exec("show running-config").output.find(" auto-enroll 70 regenerate\n"),
            std::string::npos);
  EXPECT_EQ(exec("configure terminal").output.empty(), false);
  run("crypto pki trustpoint tp\nauto-enroll 0");  // out of range
  EXPECT_EQ(dev_.device().trustpoint("tp")->auto_enroll_percent, 70);
  // Once authenticated, the timer enrols without a dialogue.
  run("end\nconfigure terminal\ncrypto pki authenticate tp\nyes\nend");
  dev_.device().poll_trustpoints();
  auto state = dev_.device().enrollment().state("tp");
  ASSERT_TRUE(state && state->certificate);
  run("configure terminal\ncrypto pki trustpoint tp\n no auto-enroll\nend");
  EXPECT_FALSE(dev_.device().trustpoint("tp")->auto_enroll);
  EXPECT_EQ(exec("show running-config").output.find("auto-enroll"), std::string::npos);
}

// The seed's RA example in the shell: `mode ra` and `no shutdown` enrol the RA; then the
// RA shows itself as IOS does, forwards what its operator grants, and revokes nothing.
TEST_F(EnrollCommandsTest, RaModeInTheShell) {
  run("configure terminal\n"
      "crypto pki trustpoint myra\n"
      " enrollment url http://127.0.0.1:1\n"
      " subject-name cn=myra, ou=ioscs RA, o=company, c=us\n"
      " exit\n"
      "crypto pki server myra\n"
      " mode ra\n"
      " end");
  // The issuing CA grants the RA's own request at once.
  std::string out = run("configure terminal\ncrypto pki server myra\nno shutdown\nyes\nend");
  EXPECT_NE(out.find(fingerprints()), std::string::npos) << out;
  EXPECT_NE(out.find("% Certificate Server enabled.\n"), std::string::npos) << out;
  const std::string show = exec("show crypto pki server myra").output;
  EXPECT_NE(show.find("  Server configured in RA mode\n"), std::string::npos) << show;
  EXPECT_NE(show.find("  CA cert fingerprint: " +
                      pki::ios_fingerprint(upstream_->ca_cert().md5_fingerprint())),
            std::string::npos)
      << show;
  EXPECT_NE(show.find("  RA cert fingerprint: "), std::string::npos) << show;
  EXPECT_NE(show.find("  Issuer name: hostname=Router,cn=myra,ou=ioscs RA,o=company,c=us\n"),
            std::string::npos)
      << show;
  EXPECT_EQ(show.find("serial number"), std::string::npos) << show;  // the CA's business
  // The RA's own certificate says what it is; its trustpoint holds the issuing CA's.
  auto state = dev_.device().enrollment().state("myra");
  ASSERT_TRUE(state && state->certificate);
  const pki::Certificate& ra = *state->certificate;
  const pki::Certificate& ca = upstream_->ca_cert();
  EXPECT_EQ(exec("show crypto pki certificates myra").output,
            "Certificate (RA mode CS certificate)\n"
            "  Status: Available\n"
            "  Certificate Serial Number (hex): " +
                even_hex(ra.serial_hex()) +
                "\n"
                "  Certificate Usage: General Purpose\n"
                "  Issuer: \n"
                "    cn=upstream\n"
                "  Subject:\n"
                "    Name: Router\n"
                "    hostname=Router\n"
                "    cn=myra\n"
                "    ou=ioscs RA\n"
                "    o=company\n"
                "    c=us\n"
                "  Validity Date: \n"
                "    start date: " +
                format_ios_time(ra.not_before()) +
                "\n"
                "    end   date: " +
                format_ios_time(ra.not_after()) +
                "\n"
                "  Associated Trustpoints: myra \n"
                "\n" +
                upstream_ca_block(ca, "myra"));
  EXPECT_EQ(exec("show crypto pki trustpoints myra").output,
            "Trustpoint myra:\n"
            "    Subject Name:\n"
            "    cn=upstream\n"
            "          Serial Number (hex): 01\n"
            "    Certificate configured.\n"
            "    SCEP URL: http://127.0.0.1:1/cgi-bin\n"
            "    Enrollment Protocol:\n"
            "      SCEPv1\n");
  EXPECT_EQ(exec("crypto pki server myra revoke 2").output,
            "% A certificate server in RA mode revokes nothing: revoke the certificate on the "
            "issuing CA.\n");
  EXPECT_EQ(exec("crypto pki server myra unrevoke 2").output,
            "% A certificate server in RA mode unrevokes nothing: unrevoke the certificate on the "
            "issuing CA.\n");

  // A request pasted on the RA waits for its operator; the grant forwards it, and the
  // issuing CA's certificate is shown as for a CA.
  auto name = pki::parse_dn("CN=pasted, O=Example");
  auto key = pki::Key::generate_ec(256);
  auto csr = pki::make_csr({.subject = name->get(), .key = *key});
  out = run("crypto pki server myra request pkcs10 terminal pem\n" + csr->pem() + "\n");
  EXPECT_NE(out.find("% Enrollment request pending, reqId=1\n"), std::string::npos) << out;
  out = exec("crypto pki server myra grant 1").output;
  EXPECT_NE(out.find("% Granted requests are forwarded to the issuing CA.\n"
                     "% Granted certificate for request 1:\n-----BEGIN CERTIFICATE-----"),
            std::string::npos)
      << out;
  EXPECT_TRUE(pki::Csr::parse(upstream_->last_csr())->public_key().equals_public(*key));
}

}  // namespace
}  // namespace scepter::cli
