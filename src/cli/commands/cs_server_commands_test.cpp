// cs-server commands: `pathlen`, its running-config line and its range; `rollover`;
// `grant auto rollover`; `eku`; `issuer name`, the guide's spelling of `issuer-name`;
// `scep encryption-key` with an EC CA key.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "cli/commands/more_commands_testing.h"
#include "cli/config.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/name.h"
#include "pki/password_hash.h"
#include "pki/profile.h"

namespace scepter::cli {
namespace {

class CsServerCommandsTest : public testing::MoreCommandsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(exec("configure terminal").ok);
    ASSERT_TRUE(exec("crypto pki server mycs").ok);
  }
  ca::ServerConfig config() { return dev_.device().server("mycs")->config(); }
  // The server's block of the running-config.
  std::string server_config() {
    const std::string all = running_config(table_, dev_.device());
    const auto start = all.find("crypto pki server mycs\n");
    if (start == std::string::npos) return "";
    return all.substr(start, all.find("!", start) - start);
  }
};

TEST_F(CsServerCommandsTest, PathLenIsAbsentByDefault) {
  EXPECT_FALSE(config().sub_ca_path_len.has_value());
  EXPECT_EQ(server_config().find("pathlen"), std::string::npos) << server_config();
}

TEST_F(CsServerCommandsTest, PathLenSetShownAndRemoved) {
  Reply r = exec("pathlen 2");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(config().sub_ca_path_len, 2);
  EXPECT_NE(server_config().find("\n pathlen 2\n"), std::string::npos) << server_config();
  EXPECT_TRUE(exec("pathlen 0").ok);
  EXPECT_EQ(config().sub_ca_path_len, 0);
  EXPECT_NE(server_config().find("\n pathlen 0\n"), std::string::npos) << server_config();
  EXPECT_TRUE(exec("no pathlen").ok);
  EXPECT_FALSE(config().sub_ca_path_len.has_value());
  EXPECT_EQ(server_config().find("pathlen"), std::string::npos) << server_config();
  // `no pathlen N` takes the value too, as IOS's `no` forms do.
  EXPECT_TRUE(exec("pathlen 3").ok);
  EXPECT_TRUE(exec("no pathlen 3").ok);
  EXPECT_FALSE(config().sub_ca_path_len.has_value());
}

TEST_F(CsServerCommandsTest, PathLenOutOfRange) {
  // "Router(cs-server)#" is 18 columns; the value starts 8 further.
  const std::string marker =
      std::string(18 + 8, ' ') + "^\n% Invalid input detected at '^' marker.\n";
  EXPECT_EQ(exec("pathlen 9").output, marker);
  EXPECT_EQ(exec("pathlen -1").output, marker);
  EXPECT_EQ(exec("pathlen x").output, marker);
  EXPECT_EQ(exec("pathlen").output, "% Incomplete command.\n");
  EXPECT_FALSE(config().sub_ca_path_len.has_value());
  EXPECT_NE(session_->help("pathlen ").find("<0-8>"), std::string::npos)
      << session_->help("pathlen ");
}

// Like `lifetime certificate`, it applies to what is issued next: no lock.
TEST_F(CsServerCommandsTest, PathLenChangesWhileEnabled) {
  ASSERT_NE(enabled_server("mycs"), nullptr);
  Reply r = exec("pathlen 1");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(config().sub_ca_path_len, 1);
  EXPECT_TRUE(exec("no pathlen").ok);
  EXPECT_FALSE(config().sub_ca_path_len.has_value());
}

// A subordinate CA's request is listed in its own table, with what the CA profile leaves
// out of it.
TEST_F(CsServerCommandsTest, SubCaRequestsAreListedApart) {
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(exec("grant auto").ok);
  pki::Ptr<X509_EXTENSION> bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE,pathlen:3"));
  ASSERT_TRUE(bc);
  auto key = pki::Key::generate_ec(256);
  auto name = pki::parse_dn("CN=sub1.example.com");
  auto csr = pki::make_csr({.subject = name->get(), .key = *key, .extensions = {bc.get()}});
  ASSERT_TRUE(csr.has_value());
  auto out = server->submit(csr->der(), ca::RequestSource::kManualPem);
  ASSERT_TRUE(out.has_value()) << out.error().to_string();
  EXPECT_FALSE(out->certificate.has_value());  // grant auto: still waits

  auto listing = [&] { return exec("do show crypto pki server mycs requests").output; };
  const std::string line = fmt::format("{:<6} pending    {} cn=sub1.example.com\n", out->request.id,
                                       out->request.fingerprint);
  std::string text = listing();
  const auto sub = text.find("Subordinate CA certificate requests:");
  const auto at = text.find(line);
  const auto ra = text.find("RA certificate requests:");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_LT(sub, at) << text;
  EXPECT_LT(at, ra) << text;
  EXPECT_NE(text.find("not granted: basicConstraints pathlen:3 (replaced by the profile)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("CA:TRUE"), std::string::npos) << text;
  // With pathlen 3 configured, nothing of the request is left out.
  ASSERT_TRUE(exec("pathlen 3").ok);
  text = listing();
  EXPECT_EQ(text.find("not granted"), std::string::npos) << text;
}

TEST(CsServerConfig, PathLenRoundTrip) {
  CommandTable table;
  testing::build_full_table(table);
  const std::string text =
      "crypto pki server mycs\n"
      " lifetime certificate 200\n"
      " pathlen 0\n"
      " grant auto\n"
      "end\n";
  testing::TempDevice first;
  LoadResult r = load_config(table, first.device(), text);
  EXPECT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(first.device().server("mycs")->config().sub_ca_path_len, 0);
  const std::string body = running_config(table, first.device());
  EXPECT_NE(body.find("\n pathlen 0\n"), std::string::npos) << body;
  testing::TempDevice second;
  r = load_config(table, second.device(), body);
  EXPECT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(running_config(table, second.device()), body);
  EXPECT_EQ(second.device().server("mycs")->config().sub_ca_path_len, 0);
}

// The guide's "Starting Automated CA Certificate Rollover Immediately": the shadow is made,
// The publish queue has its own command; `show crypto pki server` keeps IOS's lines.
TEST_F(CsServerCommandsTest, PublishQueueIsShownApart) {
  ASSERT_NE(enabled_server("mycs"), nullptr);
  ASSERT_TRUE(exec("end").ok);
  EXPECT_EQ(exec("show crypto pki server mycs publish").output,
            "Certificate Server mycs publishes to no remote location.\n");
  EXPECT_EQ(exec("show crypto pki server other publish").output,
            "% Certificate server other does not exist.\n");
  EXPECT_EQ(exec("show crypto pki server mycs").output.find("ublish"), std::string::npos);
}

// `show crypto pki server` gives its fingerprint and expiry in the guide's layout, and
// `rollover cancel` deletes it. In configuration mode as in exec mode.
TEST_F(CsServerCommandsTest, RolloverNowShowAndCancel) {
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(exec("end").ok);
  Reply r = exec("crypto pki server mycs rollover");
  ASSERT_TRUE(r.ok) << r.output;
  auto shadow = server->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  const std::string fp = pki::ios_fingerprint(shadow->md5_fingerprint());
  EXPECT_EQ(r.output.find("% Rollover CA certificate generated: fingerprint " + fp + "\n"), 0u)
      << r.output;
  const std::string show = exec("show crypto pki server mycs").output;
  EXPECT_NE(show.find("  Rollover status: available for rollover\n"
                      "    Rollover CA cert fingerprint: " +
                      fp +
                      "\n"
                      "    Rollover CA certificate expiration timer: " +
                      format_ios_time(shadow->not_after()) + "\n"),
            std::string::npos)
      << show;
  EXPECT_EQ(exec("crypto pki server mycs rollover").output,
            "% A rollover CA certificate exists already (crypto pki server mycs rollover cancel "
            "deletes it).\n");
  const std::string certs = exec("show crypto pki certificates mycs").output;
  EXPECT_NE(certs.find("CA Certificate (Rollover)\n  Status: Available\n"), std::string::npos)
      << certs;
  ASSERT_TRUE(exec("configure terminal").ok);
  EXPECT_EQ(exec("crypto pki export mycs pem terminal rollover").output,
            "% Rollover CA certificate:\n" + shadow->pem());
  r = exec("crypto pki server mycs rollover cancel");
  EXPECT_EQ(r.output, "% Rollover CA certificate and keys deleted.\n");
  EXPECT_FALSE(server->rollover_certificate().has_value());
  EXPECT_EQ(exec("do show crypto pki server mycs").output.find("Rollover status"),
            std::string::npos);
  EXPECT_EQ(exec("crypto pki server mycs rollover cancel").output,
            "% There is no rollover CA certificate to cancel.\n");
  EXPECT_EQ(exec("crypto pki export mycs pem terminal rollover").output,
            "% Trustpoint mycs has no rollover CA certificate.\n");
  EXPECT_EQ(exec("do show crypto pki certificates mycs").output.find("(Rollover)"),
            std::string::npos);
  EXPECT_EQ(exec("crypto pki server nosuch rollover").output,
            "% Certificate server nosuch does not exist.\n");
}

// `grant auto acme`: off by default, shown when on, loads back, `no` turns it off.
TEST_F(CsServerCommandsTest, GrantAutoAcmeSetShownAndRemoved) {
  EXPECT_FALSE(config().acme_auto);
  EXPECT_EQ(server_config().find("acme"), std::string::npos) << server_config();
  Reply r = exec("grant auto acme");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_TRUE(config().acme_auto);
  EXPECT_EQ(config().grant, ca::GrantMode::kManual);
  EXPECT_NE(server_config().find("\n grant auto acme\n"), std::string::npos) << server_config();
  const std::string body = running_config(table_, dev_.device());
  testing::TempDevice second;
  LoadResult loaded = load_config(table_, second.device(), body);
  EXPECT_EQ(loaded.errors, 0) << loaded.output;
  EXPECT_TRUE(second.device().server("mycs")->config().acme_auto);
  r = exec("no grant auto acme");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_FALSE(config().acme_auto);
  EXPECT_EQ(server_config().find("grant auto acme"), std::string::npos) << server_config();
}

// `grant auto rollover {ca-cert | ra-cert}`: two settings, off by default, each with its
// `no` form and its running-config line, which loads back into the same settings.
TEST_F(CsServerCommandsTest, GrantAutoRolloverSetShownAndRemoved) {
  EXPECT_FALSE(config().rollover_auto_ca);
  EXPECT_FALSE(config().rollover_auto_ra);
  EXPECT_EQ(server_config().find("rollover"), std::string::npos) << server_config();

  Reply r = exec("grant auto rollover ca-cert");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_TRUE(config().rollover_auto_ca);
  EXPECT_FALSE(config().rollover_auto_ra);
  EXPECT_NE(server_config().find("\n grant auto rollover ca-cert\n"), std::string::npos)
      << server_config();
  EXPECT_EQ(server_config().find("ra-cert"), std::string::npos) << server_config();
  // Unique prefixes, as everywhere.
  r = exec("gr au ro ra");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_TRUE(config().rollover_auto_ra);
  EXPECT_NE(server_config().find("\n grant auto rollover ca-cert\n"
                                 " grant auto rollover ra-cert\n"),
            std::string::npos)
      << server_config();
  // The other grant settings are untouched.
  EXPECT_EQ(config().grant, ca::GrantMode::kManual);
  EXPECT_TRUE(config().renewal_auto);

  // The running-config loads back into the same settings.
  const std::string body = running_config(table_, dev_.device());
  testing::TempDevice second;
  LoadResult loaded = load_config(table_, second.device(), body);
  EXPECT_EQ(loaded.errors, 0) << loaded.output;
  EXPECT_EQ(running_config(table_, second.device()), body);
  EXPECT_TRUE(second.device().server("mycs")->config().rollover_auto_ca);
  EXPECT_TRUE(second.device().server("mycs")->config().rollover_auto_ra);

  // Each `no` form turns its own setting off.
  EXPECT_TRUE(exec("no grant auto rollover ca-cert").ok);
  EXPECT_FALSE(config().rollover_auto_ca);
  EXPECT_TRUE(config().rollover_auto_ra);
  EXPECT_EQ(server_config().find("ca-cert"), std::string::npos) << server_config();
  EXPECT_NE(server_config().find("\n grant auto rollover ra-cert\n"), std::string::npos)
      << server_config();
  EXPECT_TRUE(exec("no grant auto rollover ra-cert").ok);
  EXPECT_FALSE(config().rollover_auto_ra);
  EXPECT_EQ(server_config().find("rollover"), std::string::npos) << server_config();

  // The keyword is required; `?` lists both with their help.
  EXPECT_EQ(exec("grant auto rollover").output, "% Incomplete command.\n");
  EXPECT_EQ(exec("no grant auto rollover").output, "% Incomplete command.\n");
  EXPECT_FALSE(config().rollover_auto_ca);
  EXPECT_FALSE(config().rollover_auto_ra);
  const std::string help = session_->help("grant auto rollover ");
  EXPECT_NE(help.find("ca-cert"), std::string::npos) << help;
  EXPECT_NE(help.find("Subordinate CA rollover certificate"), std::string::npos) << help;
  EXPECT_NE(help.find("ra-cert"), std::string::npos) << help;
  EXPECT_NE(help.find("RA mode CA rollover certificate"), std::string::npos) << help;
  const std::string auto_help = session_->help("grant auto ");
  EXPECT_NE(auto_help.find("rollover"), std::string::npos) << auto_help;
  EXPECT_NE(auto_help.find("renewal"), std::string::npos) << auto_help;

  // Like the granting mode, it may change while the server runs.
  ASSERT_NE(enabled_server("mycs"), nullptr);
  EXPECT_TRUE(exec("grant auto rollover ca-cert").ok);
  EXPECT_TRUE(config().rollover_auto_ca);
}

// `eku` (IOS-XE): one or more keywords on a line, replacing the list; `no eku` empties it.
// The running-config prints them in certificate order, after `hash`.
TEST_F(CsServerCommandsTest, EkuSetShownAndRemoved) {
  EXPECT_TRUE(config().ekus.empty());
  EXPECT_EQ(server_config().find("eku"), std::string::npos) << server_config();

  Reply r = exec("eku client-auth server-auth");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(config().ekus, (std::vector<pki::Eku>{pki::Eku::kServerAuth, pki::Eku::kClientAuth}));
  EXPECT_NE(server_config().find("\n eku server-auth client-auth\n"), std::string::npos)
      << server_config();
  // A new line replaces the list; unique prefixes, as everywhere.
  r = exec("eku ssh-s em");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(config().ekus,
            (std::vector<pki::Eku>{pki::Eku::kEmailProtection, pki::Eku::kSshServer}));
  EXPECT_NE(server_config().find("\n eku email-protection ssh-server\n"), std::string::npos)
      << server_config();
  // Every keyword at once: each is one the profile takes.
  r = exec(
      "eku server-auth client-auth ipsec-ike ipsec-end-system ipsec-tunnel ipsec-user "
      "email-protection ssh-client ssh-server");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(config().ekus.size(), 9u);
  // After `hash`.
  ASSERT_TRUE(exec("hash sha384").ok);
  EXPECT_NE(
      server_config().find("\n hash sha384\n"
                           " eku server-auth client-auth ipsec-ike ipsec-end-system "
                           "ipsec-tunnel ipsec-user email-protection ssh-client ssh-server\n"),
      std::string::npos)
      << server_config();

  // The running-config loads back into the same settings.
  ASSERT_TRUE(exec("eku server-auth client-auth").ok);
  const std::string body = running_config(table_, dev_.device());
  testing::TempDevice second;
  LoadResult loaded = load_config(table_, second.device(), body);
  EXPECT_EQ(loaded.errors, 0) << loaded.output;
  EXPECT_EQ(running_config(table_, second.device()), body);
  EXPECT_EQ(second.device().server("mycs")->config().ekus, config().ekus);

  // `no eku`, with or without keywords, removes them all.
  EXPECT_TRUE(exec("no eku").ok);
  EXPECT_TRUE(config().ekus.empty());
  EXPECT_EQ(server_config().find("eku"), std::string::npos) << server_config();
  ASSERT_TRUE(exec("eku server-auth client-auth").ok);
  EXPECT_TRUE(exec("no eku client-auth").ok);
  EXPECT_TRUE(config().ekus.empty());
}

// Only the usages the CA issues: IOS-XE's code-signing, ocsp-signing and time-stamping,
// a repeated keyword or a stray word are refused at the marker, and nothing changes.
TEST_F(CsServerCommandsTest, EkuRefusesWhatTheCaDoesNotIssue) {
  ASSERT_TRUE(exec("eku server-auth").ok);
  // "Router(cs-server)#" is 18 columns.
  auto marker = [](std::size_t column) {
    return std::string(18 + column, ' ') + "^\n% Invalid input detected at '^' marker.\n";
  };
  EXPECT_EQ(exec("eku code-signing").output, marker(4));
  EXPECT_EQ(exec("eku ocsp-signing").output, marker(4));
  EXPECT_EQ(exec("eku client-auth time-stamping").output, marker(16));
  EXPECT_EQ(exec("eku client-auth client-auth").output, marker(16));
  EXPECT_EQ(exec("eku serverAuth").output, marker(4));
  EXPECT_EQ(exec("eku s").output, "% Ambiguous command:  \"eku s\"\n");
  EXPECT_EQ(exec("eku").output, "% Incomplete command.\n");
  EXPECT_EQ(config().ekus, (std::vector<pki::Eku>{pki::Eku::kServerAuth}));
  // `?` lists exactly the usages the CA issues.
  const std::string help = session_->help("eku ");
  for (std::string_view word :
       {"client-auth", "email-protection", "ipsec-end-system", "ipsec-ike", "ipsec-tunnel",
        "ipsec-user", "server-auth", "ssh-client", "ssh-server"}) {
    EXPECT_NE(help.find(word), std::string::npos) << word << "\n" << help;
  }
  EXPECT_EQ(help.find("code-signing"), std::string::npos) << help;
  EXPECT_EQ(session_->help("eku server-auth ").find("server-auth"), std::string::npos);
}

// Like `lifetime certificate`, it applies to what is issued next: no lock.
TEST_F(CsServerCommandsTest, EkuChangesWhileEnabled) {
  ASSERT_NE(enabled_server("mycs"), nullptr);
  Reply r = exec("eku client-auth");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(config().ekus, (std::vector<pki::Eku>{pki::Eku::kClientAuth}));
  EXPECT_TRUE(exec("no eku").ok);
  EXPECT_TRUE(config().ekus.empty());
}

// The guide's Step 8 writes `issuer name DN-string`: the same as `issuer-name`, printed
// back as `issuer-name`. `issuer` alone still abbreviates `issuer-name`.
TEST_F(CsServerCommandsTest, IssuerNameTwoWordsIsIssuerName) {
  Reply r = exec("issuer name CN=sub CA, O=Cisco, C=us");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  const std::string two_words = config().issuer_name;
  EXPECT_NE(two_words.find("CN=sub CA"), std::string::npos) << two_words;
  EXPECT_EQ(server_config().find("issuer name"), std::string::npos) << server_config();
  EXPECT_NE(server_config().find("\n issuer-name " + two_words + "\n"), std::string::npos)
      << server_config();
  ASSERT_TRUE(exec("no issuer-name").ok);
  ASSERT_TRUE(exec("issuer-name CN=sub CA, O=Cisco, C=us").ok);
  EXPECT_EQ(config().issuer_name, two_words);

  EXPECT_TRUE(exec("no issuer name").ok);
  EXPECT_TRUE(config().issuer_name.empty());
  EXPECT_EQ(server_config().find("issuer"), std::string::npos) << server_config();

  // Abbreviations of either word.
  EXPECT_TRUE(exec("iss nam CN=a").ok);
  EXPECT_EQ(config().issuer_name, "CN=a");
  EXPECT_TRUE(exec("ISSUER NAME CN=b").ok);
  EXPECT_EQ(config().issuer_name, "CN=b");
  // `issuer` still abbreviates `issuer-name` before a DN.
  r = exec("issuer CN=c, O=Example");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(config().issuer_name, "CN=c, O=Example");
  EXPECT_TRUE(exec("iss CN=d").ok);
  EXPECT_EQ(config().issuer_name, "CN=d");
  EXPECT_TRUE(exec("no issuer").ok);
  EXPECT_TRUE(config().issuer_name.empty());

  EXPECT_EQ(exec("issuer name").output, "% Incomplete command.\n");
  EXPECT_EQ(exec("issuer").output, "% Incomplete command.\n");
  // Not offered by `?`: the configuration says issuer-name.
  EXPECT_EQ(session_->help("issuer-name ").find("  name"), std::string::npos)
      << session_->help("issuer-name ");

  // Fixed once the CA certificate exists, whichever the spelling.
  ASSERT_NE(enabled_server("mycs"), nullptr);
  EXPECT_EQ(exec("issuer name CN=other").output,
            "% The issuer name cannot be changed after CA certificate generation.\n");
}

// An EC CA: `no shutdown` refuses it until SCEP has an RSA key to decrypt with, then
// generates that key, issues its certificate and says so.
TEST_F(CsServerCommandsTest, ScepEncryptionKeyForAnEcCa) {
  ASSERT_TRUE(exec("exit").ok);
  Reply r = exec("crypto key generate ec keysize 256 label mycs");
  ASSERT_TRUE(r.ok) << r.output;
  ASSERT_TRUE(exec("crypto pki server mycs").ok);
  ASSERT_TRUE(exec("no database archive").ok);
  ASSERT_TRUE(exec("no shutdown").ok);
  r = exec("yes");
  EXPECT_NE(r.output.find("% The CA key mycs is not an RSA key, and SCEP clients encrypt their "
                          "requests to RSA: name an RSA key for them (scep encryption-key LABEL"),
            std::string::npos)
      << r.output;
  ASSERT_TRUE(exec("shutdown").ok);
  r = exec("scep encryption-key mycs-scep");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_NE(server_config().find("\n scep encryption-key mycs-scep\n"), std::string::npos)
      << server_config();
  r = exec("no shutdown");  // asked once already
  EXPECT_NE(r.output.find("% Generating 2048 bit RSA keys for SCEP encryption, keys will be "
                          "non-exportable...[OK]\n% SCEP encryption certificate issued (serial "
                          "0x2).\n% Certificate Server enabled.\n"),
            std::string::npos)
      << r.output;
  const std::string show = exec("do show crypto pki server mycs").output;
  EXPECT_NE(show.find("  SCEP encryption cert fingerprint: "), std::string::npos) << show;
  EXPECT_NE(show.find(" (key mycs-scep)\n"), std::string::npos) << show;
  // Locked while the server runs, as the CA's storage is.
  r = exec("scep encryption-key other");
  EXPECT_NE(r.output.find("Server's configuration is locked"), std::string::npos) << r.output;
  EXPECT_EQ(config().scep_encryption_key, "mycs-scep");
  ASSERT_TRUE(exec("shutdown").ok);
  ASSERT_TRUE(exec("no scep encryption-key").ok);
  EXPECT_EQ(server_config().find("encryption-key"), std::string::npos) << server_config();
  EXPECT_EQ(exec("scep encryption-key").output, "% Incomplete command.\n");
}

// The ocsp lines: in the running-config in the order they load, `no` forms back to the
// defaults, the ranges and the URL checked, the responder key locked while enabled.
TEST_F(CsServerCommandsTest, OcspLines) {
  ASSERT_TRUE(exec("ocsp").ok);
  ASSERT_TRUE(exec("ocsp url http://ocsp.example.com/ocsp").ok);
  ASSERT_TRUE(exec("ocsp validity 6").ok);
  ASSERT_TRUE(exec("no ocsp nonce").ok);
  ASSERT_TRUE(exec("ocsp responder-key mycs-ocsp").ok);
  EXPECT_NE(server_config().find("\n ocsp\n ocsp url http://ocsp.example.com/ocsp\n ocsp validity "
                                 "6\n no ocsp nonce\n ocsp responder-key mycs-ocsp\n"),
            std::string::npos)
      << server_config();
  Reply r = exec("ocsp url https://ocsp.example.com/");
  EXPECT_NE(r.output.find("The OCSP URL must be an HTTP URL"), std::string::npos) << r.output;
  r = exec("ocsp validity 169");
  EXPECT_NE(r.output.find("% Invalid input detected"), std::string::npos) << r.output;
  r = exec("ocsp responder-key bad/label");
  EXPECT_NE(r.output.find("Invalid key label bad/label"), std::string::npos) << r.output;

  ASSERT_TRUE(exec("no database archive").ok);
  ASSERT_TRUE(exec("no shutdown").ok);
  r = exec("yes");
  ASSERT_NE(r.output.find("% Certificate Server enabled."), std::string::npos) << r.output;
  const std::string show = exec("do show crypto pki server mycs").output;
  EXPECT_NE(show.find("  OCSP responder: enabled at /ocsp, responses valid 6 hours, nonces "
                      "ignored\n  OCSP responses signed by: delegated responder key mycs-ocsp\n"
                      "  OCSP URL in issued certificates: http://ocsp.example.com/ocsp\n"),
            std::string::npos)
      << show;
  r = exec("ocsp responder-key other");
  EXPECT_NE(r.output.find("Server's configuration is locked"), std::string::npos) << r.output;
  ASSERT_TRUE(exec("ocsp validity 12").ok);  // not locked

  ASSERT_TRUE(exec("shutdown").ok);
  for (const char* line :
       {"no ocsp", "no ocsp url", "no ocsp validity", "ocsp nonce", "no ocsp responder-key"}) {
    ASSERT_TRUE(exec(line).ok) << line;
  }
  EXPECT_EQ(server_config().find("ocsp"), std::string::npos) << server_config();
}

// The est lines: saved, shown with where clients reach the service (and that it waits
// for `ip http secure-server`), ranges checked, `no` forms back to the defaults.
TEST_F(CsServerCommandsTest, EstLines) {
  ASSERT_TRUE(exec("est").ok);
  ASSERT_TRUE(exec("est retry-after 300").ok);
  EXPECT_NE(server_config().find("\n est\n est retry-after 300\n"), std::string::npos)
      << server_config();
  Reply r = exec("est retry-after 9");
  EXPECT_NE(r.output.find("% Invalid input detected"), std::string::npos) << r.output;
  EXPECT_EQ(exec("est retry-after").output, "% Incomplete command.\n");
  std::string show = exec("do show crypto pki server mycs").output;
  EXPECT_NE(show.find("  EST server: enabled at /.well-known/est/mycs/ on the HTTP secure server "
                      "(off: ip http secure-server)\n"),
            std::string::npos)
      << show;
  ASSERT_TRUE(exec("exit").ok);
  ASSERT_TRUE(exec("ip http secure-server").ok);
  show = exec("do show crypto pki server mycs").output;
  EXPECT_NE(
      show.find("  EST server: enabled at /.well-known/est/mycs/ on the HTTP secure server\n"),
      std::string::npos)
      << show;
  ASSERT_TRUE(exec("crypto pki server mycs").ok);

  // Accounts: kept and shown as type 9 only; a type 9 secret is taken as it is.
  ASSERT_TRUE(exec("est user router7 secret s3cret").ok);
  const std::string config = server_config();
  const std::size_t at = config.find(" est user router7 secret 9 $9$");
  ASSERT_NE(at, std::string::npos) << config;
  EXPECT_EQ(config.find("s3cret"), std::string::npos) << config;
  const std::string hashed = config.substr(at + 27, 61);
  EXPECT_TRUE(pki::type9_verify("s3cret", hashed)) << hashed;
  ASSERT_TRUE(
      exec("est user r2 secret 9 $9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6")
          .ok);
  EXPECT_NE(
      server_config().find(
          " est user r2 secret 9 $9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6\n"),
      std::string::npos);
  EXPECT_EQ(exec("est user r3 secret 9 $9$short").output, "% Invalid type 9 secret.\n");
  EXPECT_NE(exec("est user a:b secret x").output.find("no ':'"), std::string::npos);
  EXPECT_EQ(exec("est user r4").output, "% Incomplete command.\n");
  EXPECT_NE(exec("do show crypto pki server mycs").output.find("  EST accounts: 2\n"),
            std::string::npos);
  ASSERT_TRUE(exec("no est user r2").ok);
  ASSERT_TRUE(exec("no est user router7").ok);

  ASSERT_TRUE(exec("no est").ok);
  ASSERT_TRUE(exec("no est retry-after").ok);
  EXPECT_EQ(server_config().find(" est"), std::string::npos) << server_config();
}

}  // namespace
}  // namespace scepter::cli
