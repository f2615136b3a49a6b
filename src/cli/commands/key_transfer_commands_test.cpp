// crypto key export / crypto key import.
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"
#include "common/fs.h"
#include "pki/key.h"
#include "pki/provider.h"

namespace scepter::cli {
namespace {

class KeyTransferTest : public testing::MoreCommandsTest {
 protected:
  void SetUp() override {
    run("configure terminal\ncrypto key generate rsa label k1 modulus 1024 exportable\n"
        "crypto key generate rsa label locked modulus 512");
    ASSERT_TRUE(key("k1").has_value());
  }
  std::optional<ca::KeyEntry> key(const std::string& label) {
    return dev_.device().keys().get(label);
  }
  // The encrypted private key in an export's output.
  static std::string private_part(const std::string& out, std::string_view begin) {
    auto pos = out.find(begin);
    return pos == std::string::npos ? "" : out.substr(pos);
  }
  // The PEM blocks of an export's output, in order.
  static std::vector<std::string> pem_blocks(const std::string& out) {
    std::vector<std::string> blocks;
    std::size_t pos = 0;
    while ((pos = out.find("-----BEGIN ", pos)) != std::string::npos) {
      const std::size_t end_marker = out.find("-----END ", pos);
      if (end_marker == std::string::npos) break;
      const std::size_t end = out.find('\n', end_marker);
      blocks.push_back(out.substr(pos, end == std::string::npos ? end : end + 1 - pos));
      pos = end == std::string::npos ? out.size() : end + 1;
    }
    return blocks;
  }
  static bool openssl_accepts(const std::string& file, const std::string& pass) {
    std::string cmd =
        "openssl pkey -passin pass:" + pass + " -in '" + file + "' -noout 2>/dev/null";
    return std::system(cmd.c_str()) == 0;
  }
};

TEST_F(KeyTransferTest, ExportToTerminal) {
  Reply r = exec("crypto key export rsa k1 pem terminal 3des pass1234");
  ASSERT_TRUE(r.ok) << r.output;
  const std::string head = "% Key name: k1\n   Usage: General Purpose Key\nKey data:\n";
  EXPECT_EQ(r.output.substr(0, head.size()), head);
  EXPECT_EQ(r.output.substr(head.size(), key("k1")->key.public_pem().size()),
            key("k1")->key.public_pem());
  std::string prv = private_part(r.output, "-----BEGIN RSA PRIVATE KEY-----\n");
  EXPECT_TRUE(
      prv.starts_with("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                      "DEK-Info: DES-EDE3-CBC,"))
      << r.output;
  auto back = pki::Key::from_pem(prv, "pass1234");
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_TRUE(back->equals_public(key("k1")->key));
  EXPECT_FALSE(pki::Key::from_pem(prv, "wrong").has_value());

  r = exec("crypto key export rsa k1 pem terminal aes256 pass1234");
  EXPECT_NE(r.output.find("DEK-Info: AES-256-CBC,"), std::string::npos) << r.output;
}

TEST_F(KeyTransferTest, ExportErrors) {
  Reply r = exec("crypto key export rsa locked pem terminal 3des pass1234");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% RSA keypair 'locked' is not exportable.\n");
  EXPECT_EQ(exec("crypto key export rsa nosuch pem terminal 3des pass1234").output,
            "% RSA keypair 'nosuch' does not exist.\n");
  EXPECT_EQ(exec("crypto key export ec k1 pem terminal 3des pass1234").output,
            "% EC keypair 'k1' does not exist.\n");
  EXPECT_EQ(exec("crypto key export rsa k1 pem url tftp://host/k1 3des pass1234").output,
            "% a local file is needed here (nvram:, flash: or a local path), not tftp:\n");
  EXPECT_EQ(exec("crypto key export rsa k1 pem terminal 3des").output, "% Incomplete command.\n");
}

TEST_F(KeyTransferTest, ExportToFilesOpensslReads) {
  Reply r = exec("crypto key export rsa k1 pem url nvram:k1 3des pass1234");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output,
            "% Key name: k1\n   Usage: General Purpose Key\n"
            "Exporting public key...\nWriting file to nvram:k1.pub\n"
            "Exporting private key...\nWriting file to nvram:k1.prv\n");
  auto pub = fs::read_file(dev_.nvram("k1.pub"));
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(*pub, key("k1")->key.public_pem());
  struct stat st {};
  ASSERT_EQ(::stat(dev_.nvram("k1.prv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(openssl_accepts(dev_.nvram("k1.prv"), "pass1234"));
  EXPECT_FALSE(openssl_accepts(dev_.nvram("k1.prv"), "wrong"));

  // A bare file system takes the label as the file name (the guide's `url nvram:`).
  r = exec("crypto key export rsa k1 pem url flash: aes256 other-pass");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_NE(r.output.find("Writing file to flash:k1.prv\n"), std::string::npos) << r.output;
  const std::string flash_prv = (dev_.root() / "flash" / "k1.prv").string();
  EXPECT_NE(fs::read_file(flash_prv)->find("DEK-Info: AES-256-CBC,"), std::string::npos);
  EXPECT_TRUE(openssl_accepts(flash_prv, "other-pass"));
}

TEST_F(KeyTransferTest, ExportedKeysImportBackNonExportable) {
  ASSERT_TRUE(exec("crypto key export rsa k1 pem url nvram: 3des pass1234").ok);
  Reply r = exec("crypto key import rsa copy pem url nvram:k1 pass1234");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "% Key pair import succeeded.\n");
  auto copy = key("copy");
  ASSERT_TRUE(copy.has_value());
  EXPECT_TRUE(copy->key.equals_public(key("k1")->key));
  EXPECT_TRUE(copy->key.has_private());
  EXPECT_FALSE(copy->exportable);
  // Imported without `exportable`, it can never be exported again (the seed).
  EXPECT_EQ(exec("crypto key export rsa copy pem terminal 3des pass1234").output,
            "% RSA keypair 'copy' is not exportable.\n");

  r = exec("crypto key import rsa copy2 pem signature url nvram:k1 exportable pass1234");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_TRUE(key("copy2")->exportable);
  EXPECT_EQ(key("copy2")->usage, ca::KeyUsage::kSignature);
  // A restart keeps the imported key.
  dev_.reopen();
  EXPECT_TRUE(key("copy2")->key.equals_public(key("k1")->key));
}

TEST_F(KeyTransferTest, DesExportNeedsTheLegacyProvider) {
  if (!pki::load_legacy_provider()) GTEST_SKIP() << "no OpenSSL legacy provider";
  Reply r = exec("crypto key export rsa k1 pem url nvram:old des pass1234");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_NE(fs::read_file(dev_.nvram("old.prv"))->find("DEK-Info: DES-CBC,"), std::string::npos);
  EXPECT_TRUE(exec("crypto key import rsa old pem url nvram:old pass1234").ok);
  EXPECT_TRUE(key("old")->key.equals_public(key("k1")->key));
}

TEST_F(KeyTransferTest, ImportFromTerminal) {
  Reply exported = exec("crypto key export rsa k1 pem terminal 3des pass1234");
  const std::string pub = key("k1")->key.public_pem();
  const std::string prv = private_part(exported.output, "-----BEGIN RSA PRIVATE KEY-----");
  ASSERT_FALSE(prv.empty());
  std::string got = run("crypto key import rsa k2 pem terminal exportable pass1234\n" + pub + "\n" +
                        prv + "quit");
  EXPECT_EQ(got,
            "Router(config)#crypto key import rsa k2 pem terminal exportable pass1234\n"
            "% Enter PEM-formatted public General Purpose key or certificate.\n"
            "% End with a blank line or \"quit\" on a line by itself.\n" +
                pub +
                "\n"
                "% Enter PEM-formatted encrypted private General Purpose key.\n"
                "% End with \"quit\" on a line by itself.\n" +
                prv +
                "quit\n"
                "% Key pair import succeeded.\n");
  ASSERT_TRUE(key("k2").has_value());
  EXPECT_TRUE(key("k2")->key.equals_public(key("k1")->key));
  EXPECT_TRUE(key("k2")->exportable);
}

TEST_F(KeyTransferTest, ImportErrors) {
  Reply exported = exec("crypto key export rsa k1 pem terminal 3des pass1234");
  const std::string prv = private_part(exported.output, "-----BEGIN RSA PRIVATE KEY-----");
  const std::string other_pub = key("locked")->key.public_pem();

  std::string got = run("crypto key import rsa k2 pem terminal wrongpass\nquit\n" + prv + "quit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: the passphrase does not decrypt the private key.\n"))
      << got;
  got = run("crypto key import rsa k2 pem terminal pass1234\n" + other_pub + "\n" + prv + "quit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: the private key does not match the public key or "
                    "certificate.\n"))
      << got;
  got = run("crypto key import ec k2 pem terminal pass1234\nquit\n" + prv + "quit");
  EXPECT_TRUE(got.ends_with("% Key pair import failed: the private key is not an EC key.\n"))
      << got;
  got = run("crypto key import rsa k2 pem terminal pass1234\nquit\nquit");
  EXPECT_TRUE(got.ends_with("% Key pair import failed: no private key was given.\n")) << got;
  got = run("crypto key import rsa k2 pem terminal pass1234\nquit\n" + other_pub + "quit");
  EXPECT_TRUE(got.ends_with("% Key pair import failed: no private key was given.\n")) << got;
  got = run("crypto key import rsa k2 pem terminal pass1234\ngarbage\n\n" + prv + "quit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: the public key or certificate cannot be read.\n"))
      << got;
  EXPECT_FALSE(key("k2").has_value());
  EXPECT_EQ(exec("crypto key import rsa k2 pem url nvram:nosuch pass1234").output,
            "% Error opening nvram:nosuch.pub\n");
}

TEST_F(KeyTransferTest, ImportReplacingAsksFirst) {
  ASSERT_TRUE(exec("crypto key export rsa k1 pem url nvram:k1 3des pass1234").ok);
  EXPECT_EQ(run("crypto key import rsa locked pem url nvram:k1 pass1234\nno"),
            "Router(config)#crypto key import rsa locked pem url nvram:k1 pass1234\n"
            "% You already have RSA keys defined named locked.\n"
            "% Do you really want to replace them? [yes/no]: no\n");
  EXPECT_FALSE(key("locked")->key.equals_public(key("k1")->key));
  run("crypto key import rsa locked pem url nvram:k1 pass1234\nyes");
  EXPECT_TRUE(key("locked")->key.equals_public(key("k1")->key));
}

TEST_F(KeyTransferTest, CertificateAsThePublicPartAndCaKeys) {
  // A certificate server signs its CA certificate with the exportable k1.
  auto server = enabled_server("k1");
  ASSERT_TRUE(server);
  const std::string cert_pem = server->info().ca_certificate->pem();
  const std::string prv =
      private_part(exec("crypto key export rsa k1 pem terminal 3des pass1234").output,
                   "-----BEGIN RSA PRIVATE KEY-----");
  ASSERT_TRUE(exec("crypto key generate rsa label spare modulus 512 exportable").ok);
  const std::string spare_prv =
      private_part(exec("crypto key export rsa spare pem terminal 3des pass1234").output,
                   "-----BEGIN RSA PRIVATE KEY-----");

  std::string got =
      run("crypto key import rsa k2 pem terminal pass1234\n" + cert_pem + "\n" + prv + "quit");
  EXPECT_TRUE(got.ends_with("% Key pair import succeeded.\n")) << got;
  got = run("crypto key import rsa k3 pem terminal pass1234\n" + cert_pem + "\n" + spare_prv +
            "quit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: the private key does not match the public key or "
                    "certificate.\n"))
      << got;

  // Re-importing the CA key without `exportable` is how the guide makes it non-exportable.
  got =
      run("crypto key import rsa k1 pem terminal pass1234\nyes\n" + cert_pem + "\n" + prv + "quit");
  EXPECT_TRUE(got.ends_with("% Key pair import succeeded.\n")) << got;
  EXPECT_FALSE(key("k1")->exportable);

  // Another key pair would orphan the CA certificate.
  got = run("crypto key import rsa k1 pem terminal pass1234\nyes\nquit\n" + spare_prv + "quit");
  EXPECT_TRUE(
      got.ends_with("% The keys named k1 signed the CA certificate of certificate server "
                    "k1 and can only be replaced by the same key pair; remove the server "
                    "first (no crypto pki server k1).\n"))
      << got;
  EXPECT_TRUE(key("k1")->key.equals_public(*server->info().ca_certificate->public_key()));
}

// Usage keys: label u, exportable, and its two pairs.
class UsageKeysTransferTest : public KeyTransferTest {
 protected:
  void SetUp() override {
    KeyTransferTest::SetUp();
    run("crypto key generate rsa usage-keys label u modulus 1024 exportable");
    auto u = key("u");
    ASSERT_TRUE(u && u->encryption_key);
    sign_ = u->key;
    encr_ = *u->encryption_key;
  }
  // The imported label holds exactly u's two pairs, as usage keys.
  void expect_usage_keys_of_u(const std::string& label) {
    auto k = key(label);
    ASSERT_TRUE(k.has_value()) << label;
    EXPECT_EQ(k->usage, ca::KeyUsage::kUsageKeys);
    EXPECT_TRUE(k->key.equals_public(*sign_));
    EXPECT_TRUE(k->key.has_private());
    ASSERT_TRUE(k->encryption_key.has_value());
    EXPECT_TRUE(k->encryption_key->equals_public(*encr_));
    EXPECT_TRUE(k->encryption_key->has_private());
  }
  std::optional<pki::Key> sign_, encr_;
};

TEST_F(UsageKeysTransferTest, ExportToTerminalAndImportBack) {
  Reply r = exec("crypto key export rsa u pem terminal 3des pass1234");
  ASSERT_TRUE(r.ok) << r.output;
  std::vector<std::string> blocks = pem_blocks(r.output);
  ASSERT_EQ(blocks.size(), 4u) << r.output;
  EXPECT_EQ(r.output, "% Key name: u\n   Usage: Signature Key\nKey data:\n" + blocks[0] +
                          blocks[1] + "% Key name: u\n   Usage: Encryption Key\nKey data:\n" +
                          blocks[2] + blocks[3]);
  EXPECT_EQ(blocks[0], sign_->public_pem());
  EXPECT_EQ(blocks[2], encr_->public_pem());
  auto sign_back = pki::Key::from_pem(blocks[1], "pass1234");
  auto encr_back = pki::Key::from_pem(blocks[3], "pass1234");
  ASSERT_TRUE(sign_back && encr_back);
  EXPECT_TRUE(sign_back->equals_public(*sign_));
  EXPECT_TRUE(encr_back->equals_public(*encr_));

  std::string got =
      run("crypto key import rsa u2 pem usage-keys terminal exportable pass1234\n" + blocks[0] +
          "\n" + blocks[1] + "quit\n" + blocks[2] + "\n" + blocks[3] + "quit");
  EXPECT_EQ(got,
            "Router(config)#crypto key import rsa u2 pem usage-keys terminal exportable "
            "pass1234\n"
            "% Enter PEM-formatted public Signature key or certificate.\n"
            "% End with a blank line or \"quit\" on a line by itself.\n" +
                blocks[0] +
                "\n"
                "% Enter PEM-formatted encrypted private Signature key.\n"
                "% End with \"quit\" on a line by itself.\n" +
                blocks[1] +
                "quit\n"
                "% Enter PEM-formatted public Encryption key or certificate.\n"
                "% End with a blank line or \"quit\" on a line by itself.\n" +
                blocks[2] +
                "\n"
                "% Enter PEM-formatted encrypted private Encryption key.\n"
                "% End with \"quit\" on a line by itself.\n" +
                blocks[3] +
                "quit\n"
                "% Key pair import succeeded.\n");
  expect_usage_keys_of_u("u2");
  EXPECT_TRUE(key("u2")->exportable);
}

TEST_F(UsageKeysTransferTest, ExportToFilesAndImportBack) {
  Reply r = exec("crypto key export rsa u pem url nvram: aes256 pass1234");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output,
            "% Key name: u\n   Usage: Signature Key\n"
            "Exporting public key...\nWriting file to nvram:u.pub\n"
            "Exporting private key...\nWriting file to nvram:u.prv\n"
            "% Key name: u\n   Usage: Encryption Key\n"
            "Exporting public key...\nWriting file to nvram:u-encr.pub\n"
            "Exporting private key...\nWriting file to nvram:u-encr.prv\n");
  EXPECT_EQ(*fs::read_file(dev_.nvram("u.pub")), sign_->public_pem());
  EXPECT_EQ(*fs::read_file(dev_.nvram("u-encr.pub")), encr_->public_pem());
  for (const char* prv : {"u.prv", "u-encr.prv"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dev_.nvram(prv).c_str(), &st), 0) << prv;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << prv;
    EXPECT_TRUE(openssl_accepts(dev_.nvram(prv), "pass1234")) << prv;
  }

  r = exec("crypto key import rsa u2 pem usage-keys url nvram:u pass1234");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "% Key pair import succeeded.\n");
  expect_usage_keys_of_u("u2");
  EXPECT_FALSE(key("u2")->exportable);
  EXPECT_EQ(exec("crypto key export rsa u2 pem terminal 3des pass1234").output,
            "% RSA keypair 'u2' is not exportable.\n");
  // Without `usage-keys` the same files give the signature pair alone.
  r = exec("crypto key import rsa g pem url nvram:u pass1234");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(key("g")->usage, ca::KeyUsage::kGeneralPurpose);
  EXPECT_TRUE(key("g")->key.equals_public(*sign_));
  EXPECT_FALSE(key("g")->encryption_key.has_value());
  // A restart keeps both imported pairs.
  dev_.reopen();
  expect_usage_keys_of_u("u2");
}

TEST_F(UsageKeysTransferTest, NonExportableUsageKeysAreRefused) {
  run("crypto key generate rsa usage-keys label v modulus 1024");
  Reply r = exec("crypto key export rsa v pem url nvram: 3des pass1234");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% RSA keypair 'v' is not exportable.\n");
  EXPECT_FALSE(std::filesystem::exists(dev_.nvram("v.pub")));
  EXPECT_FALSE(std::filesystem::exists(dev_.nvram("v-encr.prv")));
}

// A bad encryption pair refuses the whole import: nothing is stored, not even the
// signature pair, and the label keeps the keys it had.
TEST_F(UsageKeysTransferTest, BadEncryptionPairImportsNothing) {
  std::vector<std::string> blocks =
      pem_blocks(exec("crypto key export rsa u pem terminal 3des pass1234").output);
  ASSERT_EQ(blocks.size(), 4u);
  const std::string other_pub = key("k1")->key.public_pem();
  const std::string prefix = "crypto key import rsa u2 pem usage-keys terminal pass1234\n" +
                             blocks[0] + "\n" + blocks[1] + "quit\n";

  // The encryption private key does not match the public key given with it.
  std::string got = run(prefix + other_pub + "\n" + blocks[3] + "quit");
  EXPECT_TRUE(got.ends_with(
      "% Key pair import failed: in the encryption key pair, the private key does not match the "
      "public key or certificate.\n"))
      << got;
  // The encryption private key is garbled: damaged ciphertext does not decrypt, and a
  // block that is no key at all cannot be read.
  std::string garbled = blocks[3];
  garbled.replace(garbled.find("\n\n") + 2, 8, "AAAAAAAA");
  got = run(prefix + blocks[2] + "\n" + garbled + "quit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: in the encryption key pair, the passphrase does not "
                    "decrypt the private key.\n"))
      << got;
  got = run(prefix + blocks[2] +
            "\n-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\nquit");
  EXPECT_TRUE(got.ends_with(
      "% Key pair import failed: in the encryption key pair, the private key cannot be read.\n"))
      << got;
  // No encryption private key at all.
  got = run(prefix + blocks[2] + "\nquit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: in the encryption key pair, no private key was "
                    "given.\n"))
      << got;
  // A bad signature pair ends the command before the encryption pair is asked for.
  got = run("crypto key import rsa u2 pem usage-keys terminal wrongpass\nquit\n" + blocks[1] +
            "quit");
  EXPECT_TRUE(
      got.ends_with("% Key pair import failed: in the signature key pair, the passphrase does not "
                    "decrypt the private key.\n"))
      << got;
  EXPECT_FALSE(session_->has_question());
  EXPECT_FALSE(key("u2").has_value());

  // Replacing a label: a bad encryption pair leaves the old keys in place.
  const std::string k1_before = key("k1")->key.public_key_der();
  got = run("crypto key import rsa k1 pem usage-keys terminal pass1234\nyes\n" + blocks[0] + "\n" +
            blocks[1] + "quit\n" + other_pub + "\n" + blocks[3] + "quit");
  EXPECT_TRUE(got.ends_with("the private key does not match the public key or certificate.\n"))
      << got;
  EXPECT_EQ(key("k1")->key.public_key_der(), k1_before);
  EXPECT_EQ(key("k1")->usage, ca::KeyUsage::kGeneralPurpose);

  // From files: the encryption pair's files must be there too.
  ASSERT_TRUE(exec("crypto key export rsa k1 pem url nvram:half 3des pass1234").ok);
  EXPECT_EQ(exec("crypto key import rsa u2 pem usage-keys url nvram:half pass1234").output,
            "% Error opening nvram:half-encr.pub\n");
  EXPECT_FALSE(key("u2").has_value());
}

}  // namespace
}  // namespace scepter::cli
