// crypto pki export LABEL pkcs12 and crypto pki import LABEL pkcs12: the manual backup of a
// certificate server's exportable key with its certificate, read back by the import and
// by OpenSSL's PKCS#12 reader; a key that is not exportable never leaves.
#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"
#include "common/fs.h"
#include "pki/pkcs12.h"

namespace scepter::cli {
namespace {

class PkiExportTest : public testing::MoreCommandsTest {
 protected:
  std::string flash(const std::string& name) { return dev_.device().flash_dir() + "/" + name; }
};

TEST_F(PkiExportTest, AnExportableCaKeyIsExportedAndImportedBack) {
  run("configure terminal\n"
      "crypto key generate rsa general-keys label mycs exportable modulus 2048\n"
      "end");
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  const pki::Certificate ca = *server->info().ca_certificate;
  EXPECT_EQ(run("configure terminal\n"
                "crypto pki export mycs pkcs12 flash: backup-pass\n"
                "\n"
                "end"),
            "Router#configure terminal\n"
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "Router(config)#crypto pki export mycs pkcs12 flash: backup-pass\n"
            "Destination filename [mycs]? \n"
            "Writing pkcs12 file to flash:mycs\n"
            "CRYPTO_PKI: Exported PKCS12 file successfully.\n"
            "Router(config)#end\n");
  auto der = fs::read_file(flash("mycs"));
  ASSERT_TRUE(der.has_value());
  auto p12 = pki::parse_pkcs12(*der, "backup-pass");
  ASSERT_TRUE(p12.has_value()) << p12.error().to_string();
  EXPECT_EQ(p12->cert, ca);
  EXPECT_TRUE(p12->key.equals_public(dev_.device().keys().get("mycs")->key));
  EXPECT_FALSE(pki::parse_pkcs12(*der, "wrong-pass").has_value());

  // The import takes it back under another label, asking for the source name as IOS
  // does: another name replaces the file name of the URL.
  ASSERT_TRUE(fs::write_atomic(flash("elsewhere.p12"), "not a PKCS12").ok());
  EXPECT_EQ(run("configure terminal\n"
                "crypto pki import copy pkcs12 flash:elsewhere.p12 backup-pass\n"
                "mycs\n"
                "end"),
            "Router#configure terminal\n"
            "Enter configuration commands, one per line.  End with CNTL/Z.\n"
            "Router(config)#crypto pki import copy pkcs12 flash:elsewhere.p12 backup-pass\n"
            "Source filename [elsewhere.p12]? mycs\n"
            "CRYPTO_PKI: Imported PKCS12 file successfully.\n"
            "Router(config)#end\n");
  auto imported = dev_.device().keys().get("copy");
  ASSERT_TRUE(imported.has_value());
  EXPECT_TRUE(imported->key.equals_public(p12->key));
}

TEST_F(PkiExportTest, AKeyThatIsNotExportableStays) {
  auto server = enabled_server("mycs");  // generates a non-exportable key
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(exec("configure terminal").ok);
  EXPECT_EQ(exec("crypto pki export mycs pkcs12 flash:mycs.p12 backup-pass").output,
            "% The key mycs is not exportable: only a key generated or imported with "
            "\"exportable\" leaves the device.\n");
  EXPECT_FALSE(fs::exists(flash("mycs.p12")));
  EXPECT_EQ(exec("crypto pki export nosuch pkcs12 flash: backup-pass").output,
            "% Trustpoint nosuch does not exist.\n");
  ASSERT_TRUE(exec("crypto pki trustpoint empty").ok);
  ASSERT_TRUE(exec("exit").ok);
  EXPECT_EQ(exec("crypto pki export empty pkcs12 flash: backup-pass").output,
            "% Trustpoint empty has no certificate to export.\n");
}

}  // namespace
}  // namespace scepter::cli

namespace scepter::cli {
namespace {

// crypto pki import LABEL pem url: a PEM archive as `database archive pem` writes it, and
// what goes wrong with one.
TEST_F(PkiExportTest, APemArchiveIsImportedAndItsFaultsAreSaid) {
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  const pki::Certificate ca = *server->info().ca_certificate;
  const pki::Key key = dev_.device().keys().get("mycs")->key;
  auto key_pem = key.to_encrypted_pkcs8_pem("pem-pass-1", 1000);
  ASSERT_TRUE(key_pem.has_value());
  ASSERT_TRUE(fs::write_atomic(flash("arch.pem"), ca.pem() + *key_pem).ok());
  auto other = pki::Key::generate_rsa(2048);
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(fs::write_atomic(flash("wrong.pem"),
                               ca.pem() + *other->to_encrypted_pkcs8_pem("pem-pass-1", 1000))
                  .ok());

  ASSERT_TRUE(exec("configure terminal").ok);
  EXPECT_EQ(exec("crypto ca import copy pem url flash:arch.pem wrong-pass").output,
            "% PEM files import failed: the passphrase does not decrypt the general purpose "
            "private key.\n");
  EXPECT_EQ(exec("crypto pki import copy pem url flash:wrong.pem pem-pass-1").output,
            "% PEM files import failed: the private key does not belong to the certificate.\n");
  EXPECT_TRUE(exec("crypto pki import copy pem url flash:nosuch pem-pass-1")
                  .output.starts_with("%Error opening flash:nosuch.ca ("));
  EXPECT_EQ(exec("crypto pki import mycs pem url flash:arch.pem pem-pass-1").output,
            "% Certificate server mycs is enabled; shut it down first.\n");
  EXPECT_FALSE(dev_.device().keys().get("copy").has_value());
  EXPECT_EQ(exec("crypto pki import copy pem url flash:arch.pem pem-pass-1").output,
            "% PEM files import succeeded.\n");
  auto imported = dev_.device().keys().get("copy");
  ASSERT_TRUE(imported.has_value());
  EXPECT_TRUE(imported->key.equals_public(key));
  EXPECT_TRUE(fs::exists(dev_.device().nvram_dir() + "/copy#1CA.cer"));
}

}  // namespace
}  // namespace scepter::cli
