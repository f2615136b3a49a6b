// crypto key generate, crypto key zeroize, show crypto key mypubkey.
#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"
#include "cli/config.h"
#include "common/clock.h"
#include "pki/key.h"

namespace scepter::cli {
namespace {

constexpr std::string_view kConfigure =
    "Router#configure terminal\n"
    "Enter configuration commands, one per line.  End with CNTL/Z.\n";

class KeyCommandsTest : public testing::MoreCommandsTest {
 protected:
  std::optional<ca::KeyEntry> key(const std::string& label) {
    return dev_.device().keys().get(label);
  }
};

TEST_F(KeyCommandsTest, GenerateWithModulus) {
  EXPECT_EQ(run("configure terminal\ncrypto key generate rsa label k1 modulus 512"),
            std::string(kConfigure) +
                "Router(config)#crypto key generate rsa label k1 modulus 512\n"
                "The name for the keys will be: k1\n"
                "\n"
                "% The key modulus size is 512 bits\n"
                "% Generating 512 bit RSA keys, keys will be non-exportable...\n"
                "[OK] (elapsed time was N seconds)\n");
  auto k = key("k1");
  ASSERT_TRUE(k.has_value());
  EXPECT_TRUE(k->key.is_rsa());
  EXPECT_EQ(k->key.bits(), 512);
  EXPECT_FALSE(k->exportable);
  EXPECT_EQ(k->usage, ca::KeyUsage::kGeneralPurpose);
}

// Generation runs without a lock, so two shells may generate one label at once: the
// first to finish stores its keys, the other is told and stores nothing. Here the first
// shell waits at the modulus question while the second makes the key.
TEST_F(KeyCommandsTest, ConcurrentGenerationOfOneLabelHasOneWinner) {
  ASSERT_TRUE(exec("configure terminal").ok);
  Reply r = exec("crypto key generate rsa label race");
  ASSERT_TRUE(session_->has_question()) << r.output;
  Session other(table_, dev_.device());
  ASSERT_TRUE(other.execute("configure terminal").ok);
  r = other.execute("crypto key generate ec keysize 256 label race");
  ASSERT_TRUE(r.ok) << r.output;
  r = exec("512");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("% The keys named race were changed by another session while these "
                          "were generated; the new keys were discarded.\n"),
            std::string::npos)
      << r.output;
  auto k = key("race");
  ASSERT_TRUE(k.has_value());
  EXPECT_TRUE(k->key.is_ec());
  // The disk holds the winner too.
  dev_.reopen();
  k = key("race");
  ASSERT_TRUE(k.has_value());
  EXPECT_TRUE(k->key.is_ec());
}

TEST_F(KeyCommandsTest, OptionsInAnyOrderAndAbbreviated) {
  std::string out = run("conf t\ncry key gen rsa exp mod 512 usage-keys lab k3");
  EXPECT_NE(out.find("% Generating 512 bit RSA keys, keys will be exportable...\n"),
            std::string::npos)
      << out;
  auto k = key("k3");
  ASSERT_TRUE(k.has_value());
  EXPECT_TRUE(k->exportable);
  EXPECT_EQ(k->usage, ca::KeyUsage::kUsageKeys);
}

TEST_F(KeyCommandsTest, AsksForTheModulus) {
  EXPECT_EQ(run("configure terminal\ncrypto key generate rsa label k2 signature\nabc\n5000\n\n"),
            std::string(kConfigure) +
                "Router(config)#crypto key generate rsa label k2 signature\n"
                "The name for the keys will be: k2\n"
                "Choose the size of the key modulus in the range of 360 to 4096 for your\n"
                "  Signature Keys. Choosing a key modulus greater than 512 may take\n"
                "  a few minutes.\n"
                "\n"
                "How many bits in the modulus [2048]: abc\n"
                "% The modulus must be a number from 360 to 4096.\n"
                "How many bits in the modulus [2048]: 5000\n"
                "% The modulus must be a number from 360 to 4096.\n"
                "How many bits in the modulus [2048]: \n"
                "% Generating 2048 bit RSA keys, keys will be non-exportable...\n"
                "[OK] (elapsed time was N seconds)\n");
  auto k = key("k2");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->key.bits(), 2048);
  EXPECT_EQ(k->usage, ca::KeyUsage::kSignature);

  run("crypto key generate rsa label k4\n1024");
  ASSERT_TRUE(key("k4").has_value());
  EXPECT_EQ(key("k4")->key.bits(), 1024);
}

// Usage keys are two pairs, the signature pair and the encryption pair, made one after
// the other as on IOS and stored together under one label.
TEST_F(KeyCommandsTest, GenerateUsageKeysWithModulus) {
  EXPECT_EQ(run("configure terminal\ncrypto key generate rsa usage-keys label u modulus 1024"),
            std::string(kConfigure) +
                "Router(config)#crypto key generate rsa usage-keys label u modulus 1024\n"
                "The name for the keys will be: u\n"
                "\n"
                "% The key modulus size is 1024 bits\n"
                "% Generating 1024 bit RSA keys, keys will be non-exportable...\n"
                "[OK] (elapsed time was N seconds)\n"
                "\n"
                "% The key modulus size is 1024 bits\n"
                "% Generating 1024 bit RSA keys, keys will be non-exportable...\n"
                "[OK] (elapsed time was N seconds)\n");
  auto k = key("u");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->usage, ca::KeyUsage::kUsageKeys);
  ASSERT_TRUE(k->encryption_key.has_value());
  EXPECT_EQ(k->key.bits(), 1024);
  EXPECT_EQ(k->encryption_key->bits(), 1024);
  EXPECT_TRUE(k->encryption_key->has_private());
  EXPECT_FALSE(k->encryption_key->equals_public(k->key));
  // Both pairs are on disk.
  dev_.reopen();
  auto again = key("u");
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->key.equals_public(k->key));
  ASSERT_TRUE(again->encryption_key.has_value());
  EXPECT_TRUE(again->encryption_key->equals_public(*k->encryption_key));
}

TEST_F(KeyCommandsTest, GenerateUsageKeysAsksTwice) {
  EXPECT_EQ(run("configure terminal\ncrypto key generate rsa usage-keys label u exportable\n"
                "1024\nabc\n1024"),
            std::string(kConfigure) +
                "Router(config)#crypto key generate rsa usage-keys label u exportable\n"
                "The name for the keys will be: u\n"
                "Choose the size of the key modulus in the range of 360 to 4096 for your\n"
                "  Signature Keys. Choosing a key modulus greater than 512 may take\n"
                "  a few minutes.\n"
                "\n"
                "How many bits in the modulus [2048]: 1024\n"
                "% Generating 1024 bit RSA keys, keys will be exportable...\n"
                "[OK] (elapsed time was N seconds)\n"
                "\n"
                "Choose the size of the key modulus in the range of 360 to 4096 for your\n"
                "  Encryption Keys. Choosing a key modulus greater than 512 may take\n"
                "  a few minutes.\n"
                "\n"
                "How many bits in the modulus [2048]: abc\n"
                "% The modulus must be a number from 360 to 4096.\n"
                "How many bits in the modulus [2048]: 1024\n"
                "% Generating 1024 bit RSA keys, keys will be exportable...\n"
                "[OK] (elapsed time was N seconds)\n");
  auto k = key("u");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->usage, ca::KeyUsage::kUsageKeys);
  EXPECT_TRUE(k->exportable);
  ASSERT_TRUE(k->encryption_key.has_value());
  EXPECT_FALSE(k->encryption_key->equals_public(k->key));
}

// A size refused for the encryption pair ends the command: the signature pair already
// made is not stored alone, and keys already under the label stay.
TEST_F(KeyCommandsTest, UsageKeysRefusedHalfwayStoreNothing) {
  run("configure terminal\ncrypto key generate rsa label u modulus 1024");
  const std::string before = key("u")->key.public_key_der();
  std::string out = run("crypto key generate rsa usage-keys label u\nyes\n1024\n400");
  EXPECT_TRUE(
      out.ends_with("How many bits in the modulus [2048]: 400\n"
                    "% A modulus of 400 bits is too small: the crypto library needs at least 512 "
                    "bits. Choose a modulus from 512 to 4096.\n"))
      << out;
  ASSERT_TRUE(key("u").has_value());
  EXPECT_EQ(key("u")->key.public_key_der(), before);
  EXPECT_EQ(key("u")->usage, ca::KeyUsage::kGeneralPurpose);
  EXPECT_FALSE(key("u")->encryption_key.has_value());
}

// The question for the encryption pair gives another session time to change the label:
// the usage keys are then discarded, both pairs.
TEST_F(KeyCommandsTest, UsageKeysChangedMeanwhileAreDiscarded) {
  ASSERT_TRUE(exec("configure terminal").ok);
  exec("crypto key generate rsa usage-keys label race");
  Reply r = exec("1024");
  ASSERT_TRUE(session_->has_question()) << r.output;
  Session other(table_, dev_.device());
  ASSERT_TRUE(other.execute("configure terminal").ok);
  ASSERT_TRUE(other.execute("crypto key generate ec keysize 256 label race").ok);
  r = exec("1024");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("% The keys named race were changed by another session while these "
                          "were generated; the new keys were discarded.\n"),
            std::string::npos)
      << r.output;
  ASSERT_TRUE(key("race").has_value());
  EXPECT_TRUE(key("race")->key.is_ec());
  EXPECT_FALSE(key("race")->encryption_key.has_value());
}

// As on IOS: unlabelled keys are named after the FQDN, so they need a domain name.
TEST_F(KeyCommandsTest, DefaultLabelIsTheFqdn) {
  EXPECT_EQ(run("configure terminal\nhostname ca1\ncrypto key generate rsa modulus 512\n"
                "crypto key generate ec keysize 256"),
            std::string(kConfigure) +
                "Router(config)#hostname ca1\n"
                "ca1(config)#crypto key generate rsa modulus 512\n"
                "% Please define a domain-name first.\n"
                "ca1(config)#crypto key generate ec keysize 256\n"
                "% Please define a domain-name first.\n");
  EXPECT_TRUE(dev_.device().keys().list().empty());
  // A label needs no domain name.
  EXPECT_TRUE(exec("crypto key generate rsa label k1 modulus 512").ok);
  EXPECT_TRUE(key("k1").has_value());

  EXPECT_EQ(run("ip domain name example.com\ncrypto key generate rsa modulus 512"),
            "ca1(config)#ip domain name example.com\n"
            "ca1(config)#crypto key generate rsa modulus 512\n"
            "The name for the keys will be: ca1.example.com\n"
            "\n"
            "% The key modulus size is 512 bits\n"
            "% Generating 512 bit RSA keys, keys will be non-exportable...\n"
            "[OK] (elapsed time was N seconds)\n");
  EXPECT_TRUE(key("ca1.example.com").has_value());
  EXPECT_FALSE(key("ca1").has_value());

  // A new hostname or domain name does not rename the keys; the next ones get the new name.
  ASSERT_TRUE(exec("hostname ca2").ok);
  ASSERT_TRUE(exec("ip domain-name example.org").ok);
  EXPECT_TRUE(key("ca1.example.com").has_value());
  EXPECT_TRUE(exec("crypto key generate ec keysize 256").ok);
  ASSERT_TRUE(key("ca2.example.org").has_value());
  EXPECT_TRUE(key("ca2.example.org")->key.is_ec());
  EXPECT_NE(exec("do show crypto key mypubkey rsa").output.find("Key name: ca1.example.com\n"),
            std::string::npos);
}

TEST_F(KeyCommandsTest, ModulusTheCryptoLibraryRefuses) {
  // Out of IOS's range: the grammar refuses it ("Router(config)#" is 15 columns).
  EXPECT_EQ(run("configure terminal\ncrypto key generate rsa modulus 300"),
            std::string(kConfigure) + "Router(config)#crypto key generate rsa modulus 300\n" +
                std::string(15 + 32, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  const std::string refused =
      "% A modulus of 400 bits is too small: the crypto library needs at least 512 bits. "
      "Choose a modulus from 512 to 4096.\n";
  Reply r = exec("crypto key generate rsa label k1 modulus 400");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, refused);
  EXPECT_NE(run("crypto key generate rsa label k1\n400").find(refused), std::string::npos);
  EXPECT_FALSE(key("k1").has_value());
}

TEST_F(KeyCommandsTest, BadLabel) {
  run("configure terminal");
  Reply r = exec("crypto key generate rsa label bad/label modulus 512");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output,
            "% Invalid key label bad/label: key label may only contain letters, digits, '.', "
            "'_', '-'.\n");
}

TEST_F(KeyCommandsTest, ReplacingKeysAsksFirst) {
  run("configure terminal\ncrypto key generate rsa label k1 modulus 512");
  const std::string before = key("k1")->key.public_key_der();
  EXPECT_EQ(run("crypto key generate rsa label k1 modulus 512\nno"),
            "Router(config)#crypto key generate rsa label k1 modulus 512\n"
            "% You already have RSA keys defined named k1.\n"
            "% Do you really want to replace them? [yes/no]: no\n");
  EXPECT_EQ(key("k1")->key.public_key_der(), before);
  EXPECT_EQ(run("crypto key generate rsa label k1 modulus 512 exportable\nyes"),
            "Router(config)#crypto key generate rsa label k1 modulus 512 exportable\n"
            "% You already have RSA keys defined named k1.\n"
            "% Do you really want to replace them? [yes/no]: yes\n"
            "The name for the keys will be: k1\n"
            "\n"
            "% The key modulus size is 512 bits\n"
            "% Generating 512 bit RSA keys, keys will be exportable...\n"
            "[OK] (elapsed time was N seconds)\n");
  EXPECT_NE(key("k1")->key.public_key_der(), before);
  EXPECT_TRUE(key("k1")->exportable);
}

TEST_F(KeyCommandsTest, GenerateEc) {
  EXPECT_EQ(run("configure terminal\ncrypto key generate ec keysize 384 exportable label e1"),
            std::string(kConfigure) +
                "Router(config)#crypto key generate ec keysize 384 exportable label e1\n"
                "The name for the keys will be: e1\n"
                "\n"
                "% Generating 384 bit EC keys, keys will be exportable...\n"
                "[OK] (elapsed time was N seconds)\n");
  ASSERT_TRUE(key("e1").has_value());
  EXPECT_TRUE(key("e1")->key.is_ec());
  EXPECT_EQ(key("e1")->key.bits(), 384);
  EXPECT_NE(exec("crypto key generate ec keysize 521").output.find("% Invalid input detected"),
            std::string::npos);
}

TEST_F(KeyCommandsTest, NonInteractiveLoadUses2048Bits) {
  LoadResult r = load_config(table_, dev_.device(), "crypto key generate rsa label boot\n");
  EXPECT_EQ(r.errors, 0) << r.output;
  ASSERT_TRUE(key("boot").has_value());
  EXPECT_EQ(key("boot")->key.bits(), 2048);
}

TEST_F(KeyCommandsTest, KeysSurviveARestart) {
  run("configure terminal\ncrypto key generate rsa label k1 modulus 512 exportable usage-keys\n"
      "crypto key generate ec keysize 256 label e1");
  auto k1 = key("k1");
  auto e1 = key("e1");
  ASSERT_TRUE(k1 && e1);
  dev_.reopen();
  new_session();
  auto k1_again = key("k1");
  auto e1_again = key("e1");
  ASSERT_TRUE(k1_again && e1_again);
  EXPECT_TRUE(k1_again->key.equals_public(k1->key));
  EXPECT_TRUE(k1_again->key.has_private());
  EXPECT_TRUE(k1_again->exportable);
  EXPECT_EQ(k1_again->usage, ca::KeyUsage::kUsageKeys);
  EXPECT_EQ(k1_again->created, k1->created);
  EXPECT_TRUE(e1_again->key.equals_public(e1->key));
  EXPECT_FALSE(e1_again->exportable);
}

std::string mypubkey_block(const ca::KeyEntry& e, std::string_view type, bool exportable,
                           std::string_view usage = "General Purpose Key",
                           const pki::Key* key = nullptr) {
  return "% Key pair was generated at: " + format_ios_time(e.created) + "\n" +
         "Key name: " + e.label + "\n" + "Key type: " + std::string(type) + " KEYS\n" +
         " Storage Device: private-config\n"
         " Usage: " +
         std::string(usage) + "\n" +
         (exportable ? " Key is exportable.\n" : " Key is not exportable.\n") + " Key Data:\n" +
         pki::ios_key_data(key ? *key : e.key);
}

TEST_F(KeyCommandsTest, ShowMypubkey) {
  run("configure terminal\ncrypto key generate rsa label b modulus 512 exportable\n"
      "crypto key generate rsa label a modulus 512\n"
      "crypto key generate ec keysize 256 label e\nend");
  const std::string a = mypubkey_block(*key("a"), "RSA", false);
  const std::string b = mypubkey_block(*key("b"), "RSA", true);
  const std::string e = mypubkey_block(*key("e"), "EC", false);
  EXPECT_EQ(exec("show crypto key mypubkey rsa").output, a + b);
  EXPECT_EQ(exec("show crypto key mypubkey rsa b").output, b);
  EXPECT_EQ(exec("show crypto key mypubkey ec").output, e);
  EXPECT_EQ(exec("show crypto key mypubkey rsa e").output, "");
  EXPECT_EQ(exec("show crypto key mypubkey rsa nosuch").output, "");
  // A 512-bit SubjectPublicKeyInfo is 94 bytes: 3 rows of hex.
  EXPECT_NE(a.find(" Key Data:\n  305C300D 06092A86 4886F70D 01010105 00034B00 30480241 00"),
            std::string::npos)
      << a;
}

TEST_F(KeyCommandsTest, ShowMypubkeyUsageKeysAsTwoBlocks) {
  run("configure terminal\ncrypto key generate rsa usage-keys label u modulus 1024\n"
      "crypto key generate rsa label g modulus 1024\nend");
  auto u = key("u");
  ASSERT_TRUE(u && u->encryption_key);
  const std::string usage_blocks =
      mypubkey_block(*u, "RSA", false, "Signature Key") +
      mypubkey_block(*u, "RSA", false, "Encryption Key", &*u->encryption_key);
  EXPECT_EQ(exec("show crypto key mypubkey rsa u").output, usage_blocks);
  EXPECT_EQ(exec("show crypto key mypubkey rsa").output,
            mypubkey_block(*key("g"), "RSA", false) + usage_blocks);

  // A usage-keys label written before both pairs were kept has the signature pair only.
  ca::KeyEntry old{"old", u->key, ca::KeyUsage::kUsageKeys, true, u->created};
  ASSERT_TRUE(dev_.device().keys().put(old).ok());
  EXPECT_EQ(exec("show crypto key mypubkey rsa old").output,
            mypubkey_block(old, "RSA", true, "Signature Key"));
}

TEST_F(KeyCommandsTest, ZeroizeOneLabel) {
  run("configure terminal\ncrypto key generate rsa label k1 modulus 512\n"
      "crypto key generate rsa label k2 modulus 512");
  EXPECT_EQ(run("crypto key zeroize rsa k1\nmaybe\nno"),
            "Router(config)#crypto key zeroize rsa k1\n"
            "% Keys to be removed are named 'k1'.\n"
            "Do you really want to remove these keys? [yes/no]: maybe\n"
            "% Please answer 'yes' or 'no'.\n"
            "Do you really want to remove these keys? [yes/no]: no\n");
  EXPECT_TRUE(key("k1").has_value());
  run("crypto key zeroize rsa k1\nyes");
  EXPECT_FALSE(key("k1").has_value());
  EXPECT_TRUE(key("k2").has_value());
  EXPECT_FALSE(std::filesystem::exists(dev_.nvram("private-keys/k1.key")));
}

TEST_F(KeyCommandsTest, ZeroizeUsageKeysRemovesBothPairs) {
  run("configure terminal\ncrypto key generate rsa usage-keys label u modulus 1024");
  ASSERT_TRUE(key("u") && key("u")->encryption_key);
  EXPECT_EQ(run("crypto key zeroize rsa u\nyes"),
            "Router(config)#crypto key zeroize rsa u\n"
            "% Keys to be removed are named 'u'.\n"
            "Do you really want to remove these keys? [yes/no]: yes\n");
  EXPECT_FALSE(key("u").has_value());
  EXPECT_FALSE(std::filesystem::exists(dev_.nvram("private-keys/u.key")));
  dev_.reopen();
  EXPECT_FALSE(key("u").has_value());
}

TEST_F(KeyCommandsTest, ZeroizeAll) {
  run("configure terminal\ncrypto key generate rsa label k1 modulus 512\n"
      "crypto key generate rsa label k2 modulus 512\n"
      "crypto key generate ec keysize 256 label e1");
  EXPECT_EQ(run("crypto key zeroize rsa\ny"),
            "Router(config)#crypto key zeroize rsa\n"
            "% All keys will be removed.\n"
            "% All router certs issued using these keys will also be removed.\n"
            "Do you really want to remove these keys? [yes/no]: y\n");
  EXPECT_FALSE(key("k1").has_value());
  EXPECT_FALSE(key("k2").has_value());
  EXPECT_TRUE(key("e1").has_value());
  run("crypto key zeroize\nyes");
  EXPECT_TRUE(dev_.device().keys().list().empty());
}

TEST_F(KeyCommandsTest, ZeroizeErrors) {
  run("configure terminal\ncrypto key generate ec keysize 256 label e1");
  Reply r = exec("crypto key zeroize rsa e1");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% No RSA keys named e1 exist.\n");
  EXPECT_EQ(exec("crypto key zeroize rsa").output, "% No RSA keys exist.\n");
  EXPECT_EQ(exec("crypto key zeroize ec nosuch").output, "% No EC keys named nosuch exist.\n");
  run("crypto key zeroize ec\nyes");
  EXPECT_EQ(exec("crypto key zeroize").output, "% No keys exist.\n");
}

TEST_F(KeyCommandsTest, KeysOfAnEnabledServerStay) {
  auto server = enabled_server("ca");
  ASSERT_TRUE(server);
  run("configure terminal");
  const std::string refused =
      "% The keys named ca are in use by certificate server ca; shut the server down first "
      "(crypto pki server ca, shutdown).\n";
  EXPECT_EQ(exec("crypto key zeroize rsa ca").output, refused);
  EXPECT_EQ(exec("crypto key zeroize").output, refused);
  // Its CA certificate was signed with them: not even a shut server's keys are replaced.
  Reply r = exec("crypto key generate rsa label ca modulus 512");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output,
            "% The keys named ca signed the CA certificate of certificate server ca and can only "
            "be replaced by the same key pair; remove the server first (no crypto pki server "
            "ca).\n");
  EXPECT_TRUE(key("ca").has_value());
  server->shutdown();
  run("crypto key zeroize rsa ca\nyes");
  EXPECT_FALSE(key("ca").has_value());
}

TEST_F(KeyCommandsTest, HelpListsTheKeyCommands) {
  run("configure terminal");
  std::string help = session_->help("crypto key ");
  for (std::string_view word : {"export", "generate", "import", "zeroize"}) {
    EXPECT_NE(help.find(word), std::string::npos) << help;
  }
}

}  // namespace
}  // namespace scepter::cli
