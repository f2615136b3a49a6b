// crypto pki token, keys generated `on NAME:`, a certificate server whose CA key lives on
// the token, and what happens when the token goes away. The token is SoftHSM2 (a real
// PKCS#11 module standing in for hardware; see pki/softhsm_testing.h).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "ca/certificate_server.h"
#include "cli/commands/more_commands_testing.h"
#include "cli/config.h"
#include "pki/softhsm_testing.h"

namespace scepter::cli {
namespace {

using pki::test::kSoftHsmModule;

class TokenCommandsTest : public testing::MoreCommandsTest {
 protected:
  void SetUp() override {
    if (!pki::test::softhsm_installed()) GTEST_SKIP() << "softhsm2 is not installed";
    ASSERT_EQ(hsm_.init_token("ca-token"), "");
  }
  std::string token_line(const std::string& pin = "1234") const {
    return std::string("crypto pki token token0 module ") + kSoftHsmModule +
           " label ca-token user-pin " + pin;
  }
  Reply config(const std::string& line) {
    Reply r = exec("configure terminal");
    EXPECT_TRUE(r.ok) << r.output;
    r = exec(line);
    (void)exec("end");
    return r;
  }

  pki::test::SoftHsm hsm_;
};

TEST_F(TokenCommandsTest, ConfiguredTokenLogsInAndShowsWithoutItsPin) {
  Reply r = config(token_line());
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_NE(r.output.find("% Token token0 logged in."), std::string::npos) << r.output;

  const std::string running = running_config(table_, dev_.device());
  EXPECT_NE(running.find(std::string("crypto pki token token0 module ") + kSoftHsmModule +
                         " label ca-token user-pin 7 "),
            std::string::npos)
      << running;
  EXPECT_EQ(running.find("1234"), std::string::npos) << running;

  r = exec("show crypto pki token token0:");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_NE(r.output.find("Status:          logged in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Label:           ca-token"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Manufacturer:    SoftHSM project"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Keys:            none"), std::string::npos) << r.output;

  // The running-config loads back into the same state (the type 7 PIN included).
  testing::KeyDevice second;
  auto loaded = load_config(table_, second.device(), running);
  EXPECT_EQ(loaded.errors, 0) << loaded.output;
  auto state = second.device().tokens().get("token0");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->config.pin, "1234");
  EXPECT_NE(state->token, nullptr) << state->error;
}

TEST_F(TokenCommandsTest, WrongPinKeepsTheTokenConfiguredAndSaysWhy) {
  Reply r = config(token_line("9999"));
  EXPECT_NE(r.output.find("% Token token0 is configured but cannot be used: token token0: wrong "
                          "user PIN"),
            std::string::npos)
      << r.output;
  r = exec("show crypto pki token");
  EXPECT_NE(r.output.find("Status:          not logged in (token token0: wrong user PIN)"),
            std::string::npos)
      << r.output;
  // Keys cannot be made on it, and a typo in the name is caught.
  (void)exec("configure terminal");
  r = exec("crypto key generate rsa label k modulus 2048 on token0:");
  EXPECT_NE(r.output.find("% Key generation failed: token token0: wrong user PIN"),
            std::string::npos)
      << r.output;
  r = exec("crypto key generate rsa label k modulus 2048 on token9:");
  EXPECT_NE(r.output.find("% No token named token9 is configured"), std::string::npos) << r.output;
  r = exec("crypto key generate rsa label k modulus 2048 storage token0:");
  EXPECT_NE(r.output.find("use \"on token0:\""), std::string::npos) << r.output;
  r = exec("crypto key generate rsa label k modulus 2048 exportable on token0:");
  EXPECT_NE(r.output.find("% Keys on a token are never exportable."), std::string::npos)
      << r.output;
}

// Tokens lock the PIN after a few wrong ones: a refused PIN is tried again only when the
// operator configures the token again, never by the retries that bring a token back.
TEST_F(TokenCommandsTest, AWrongPinIsNeverRetriedBehindTheOperatorsBack) {
  ASSERT_TRUE(config(token_line("9999")).ok);
  // The token's PIN becomes the one configured: a retry would now succeed.
  const pki::test::Output changed =
      pki::test::run(std::string("pkcs11-tool --module ") + kSoftHsmModule +
                     " --token-label ca-token --login --pin 1234 --change-pin --new-pin 9999");
  ASSERT_EQ(changed.status, 0) << changed.text;
  std::this_thread::sleep_for(ca::TokenRegistry::kRetryInterval + std::chrono::milliseconds(200));
  auto opened = dev_.device().tokens().open("token0");
  EXPECT_CODE(opened, Code::kUnavailable);
  EXPECT_NE(opened.error().message().find("wrong user PIN"), std::string::npos);
  // The operator's line tries it.
  Reply r = config(token_line("9999"));
  EXPECT_NE(r.output.find("% Token token0 logged in."), std::string::npos) << r.output;
}

TEST_F(TokenCommandsTest, KeyGeneratedOnTheTokenStaysThereAndSurvivesARestart) {
  ASSERT_TRUE(config(token_line()).ok);
  (void)exec("configure terminal");
  Reply r = exec("crypto key generate rsa label tk modulus 2048 on token0:");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_NE(r.output.find("% Generating 2048 bit RSA keys, keys will be on-token, "
                          "non-exportable..."),
            std::string::npos)
      << r.output;
  (void)exec("end");
  auto entry = dev_.device().keys().get("tk");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->device, "token0");
  EXPECT_TRUE(entry->key.has_private());
  EXPECT_EQ(entry->key.token(), "token0");
  EXPECT_NE(hsm_.list_objects("ca-token").find("never extractable"), std::string::npos);

  // What the key store keeps is the public key and the token's name.
  const std::string file = dev_.nvram("private-keys/tk.key");
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(" on=token0\n-----BEGIN PUBLIC KEY-----"), std::string::npos) << text;
  EXPECT_EQ(text.find("PRIVATE"), std::string::npos) << text;

  r = exec("show crypto key mypubkey rsa tk");
  EXPECT_NE(r.output.find(" Storage Device: token0\n"), std::string::npos) << r.output;
  r = exec("show crypto pki token");
  EXPECT_NE(r.output.find("Keys:            1\n    tk\n"), std::string::npos) << r.output;

  // The key cannot be exported, and a second pair under its label is refused.
  (void)exec("configure terminal");
  r = exec("crypto key export rsa tk pem terminal 3des secret123");
  EXPECT_FALSE(r.ok) << r.output;
  r = exec("crypto key generate rsa label tk modulus 2048");
  EXPECT_NE(r.output.find("remove them first (crypto key zeroize rsa tk)"), std::string::npos)
      << r.output;
  (void)exec("end");

  // After a restart, the key is found on the token again once the token line is replayed.
  const std::string running = running_config(table_, dev_.device());
  dev_.reopen();
  new_session();
  auto before = dev_.device().keys().get("tk");
  ASSERT_TRUE(before.has_value());
  EXPECT_FALSE(before->key.has_private());
  EXPECT_NE(before->device_error.find("token0"), std::string::npos) << before->device_error;
  auto loaded = load_config(table_, dev_.device(), running);
  ASSERT_EQ(loaded.errors, 0) << loaded.output;
  auto after = dev_.device().keys().get("tk");
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->key.has_private()) << after->device_error;
  EXPECT_TRUE(after->key.equals_public(entry->key));

  // Zeroized: gone from the key store and from the token.
  (void)exec("configure terminal");
  r = exec("crypto key zeroize rsa tk");
  if (session_->has_question()) r = exec("yes");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_FALSE(dev_.device().keys().get("tk").has_value());
  auto token = dev_.device().tokens().open("token0");
  ASSERT_TRUE(token.has_value());
  EXPECT_TRUE((*token)->labels()->empty());
}

TEST_F(TokenCommandsTest, CertificateServerKeyOnTheTokenAndTheTokenLost) {
  ASSERT_TRUE(config(token_line()).ok);
  (void)exec("configure terminal");
  ASSERT_TRUE(exec("crypto pki trustpoint ca").ok);
  Reply r = exec("on token0:");
  ASSERT_TRUE(r.ok) << r.output;
  (void)exec("end");
  auto server = enabled_server("ca");
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->state(), ca::ServerState::kEnabled);
  auto key = dev_.device().keys().get("ca");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->device, "token0");
  auto cert = server->info().ca_certificate;
  ASSERT_TRUE(cert.has_value());
  EXPECT_TRUE(cert->public_key()->equals_public(key->key));
  EXPECT_TRUE(cert->verify_signature(*cert->public_key()));
  const std::string running = running_config(table_, dev_.device());
  EXPECT_NE(running.find("crypto pki trustpoint ca\n on token0:\n"), std::string::npos) << running;

  // The token's store disappears: the next tick finds out and disables the server,
  // saying why; when the store is back, the server logs in again and recovers.
  const std::string dir = hsm_.token_dir();
  std::filesystem::rename(dir, dir + ".gone");
  dev_.device().tick();
  EXPECT_EQ(server->state(), ca::ServerState::kCheckFailed);
  EXPECT_NE(server->reason().find("token token0"), std::string::npos) << server->reason();
  std::filesystem::rename(dir + ".gone", dir);
  // (Automatic logins are spaced by TokenRegistry::kRetryInterval.)
  for (int i = 0; i < 60 && server->state() != ca::ServerState::kEnabled; ++i) {
    dev_.device().tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(server->state(), ca::ServerState::kEnabled) << server->reason();
}

// The seed's `crypto key import rsa ... on usbtoken0:`: an exported pair written onto the
// token, where it signs; not extractable from then on, and never exported again.
TEST_F(TokenCommandsTest, ImportedKeysGoOntoTheTokenAndStayThere) {
  ASSERT_TRUE(config(token_line()).ok);
  ASSERT_TRUE(exec("configure terminal").ok);
  ASSERT_TRUE(exec("crypto key generate rsa label soft modulus 2048 exportable").ok);
  ASSERT_TRUE(exec("crypto key export rsa soft pem url nvram:soft aes256 pass1234").ok);
  Reply r = exec("crypto key import rsa hard pem url nvram:soft on token0: pass1234");
  EXPECT_NE(r.output.find("% Key pair import succeeded.\n"), std::string::npos) << r.output;
  auto hard = dev_.device().keys().get("hard");
  ASSERT_TRUE(hard.has_value());
  EXPECT_EQ(hard->device, "token0");
  EXPECT_EQ(hard->key.token(), "token0");
  EXPECT_TRUE(hard->key.equals_public(dev_.device().keys().get("soft")->key));
  const std::string objects = hsm_.list_objects("ca-token");
  EXPECT_NE(objects.find("Private Key Object; RSA \n  label:      hard"), std::string::npos)
      << objects;
  std::ifstream key_file(dev_.nvram("private-keys/hard.key"));
  const std::string stored((std::istreambuf_iterator<char>(key_file)), {});
  EXPECT_NE(stored.find("on=token0"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("PRIVATE"), std::string::npos) << stored;
  r = exec("crypto key export rsa hard pem terminal aes256 pass1234");
  EXPECT_FALSE(r.ok) << r.output;
  r = exec("do show crypto key mypubkey rsa hard");
  EXPECT_NE(r.output.find(" Storage Device: token0"), std::string::npos) << r.output;

  // What the token cannot take is refused before anything is read.
  r = exec("crypto key import rsa hard2 pem url nvram:soft exportable on token0: pass1234");
  EXPECT_NE(r.output.find("% Keys on a token are never exportable."), std::string::npos)
      << r.output;
  r = exec("crypto key import rsa hard2 pem usage-keys url nvram:soft on token0: pass1234");
  EXPECT_NE(r.output.find("% Keys on a token are one general-purpose pair."), std::string::npos)
      << r.output;
  r = exec("crypto key import rsa hard2 pem url nvram:soft on token9: pass1234");
  EXPECT_NE(r.output.find("% No token named token9 is configured"), std::string::npos) << r.output;
  r = exec("crypto key import rsa hard pem url nvram:soft on token0: pass1234");
  EXPECT_NE(r.output.find("% You already have keys named hard on token token0; remove them first"),
            std::string::npos)
      << r.output;
  // A wrong passphrase leaves nothing on the token.
  r = exec("crypto key import rsa hard3 pem url nvram:soft on token0: wrong-pass");
  EXPECT_NE(r.output.find("Key pair import failed"), std::string::npos) << r.output;
  EXPECT_EQ(hsm_.list_objects("ca-token").find("hard3"), std::string::npos);
}

// libp11 0.4 would have two contexts on one module close each other's sessions: a second
// token on the module is refused, and the first keeps working.
TEST_F(TokenCommandsTest, OneTokenPerModule) {
  ASSERT_TRUE(config(token_line()).ok);
  Reply r = config(std::string("crypto pki token token1 module ") + kSoftHsmModule +
                   " label ca-token user-pin 1234");
  EXPECT_NE(r.output.find("is already used by token token0; a PKCS#11 module serves one token"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(dev_.device().tokens().get("token1").has_value());
  // The same token configured again logs in afresh, and works.
  r = config(token_line());
  EXPECT_NE(r.output.find("% Token token0 logged in."), std::string::npos) << r.output;
  ASSERT_TRUE(exec("configure terminal").ok);
  r = exec("crypto key generate rsa label after modulus 1024 on token0:");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(dev_.device().keys().get("after")->device, "token0");
}

// A CA whose key is on the token rolls over there: the shadow key is made on the token,
// takes over at the expiry keeping its label there, and the old key leaves the token. The
// next rollover makes its shadow under the label that was freed; cancelled, it is deleted.
TEST_F(TokenCommandsTest, ACaOnTheTokenRollsOverOnTheToken) {
  ASSERT_TRUE(config(token_line()).ok);
  (void)exec("configure terminal");
  ASSERT_TRUE(exec("crypto pki trustpoint ca").ok);
  ASSERT_TRUE(exec("on token0:").ok);
  (void)exec("end");
  auto server = enabled_server("ca");
  ASSERT_NE(server, nullptr);
  const pki::Certificate first = *server->info().ca_certificate;
  ASSERT_OK(server->start_rollover(""));
  auto shadow = server->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  auto shadow_key = dev_.device().keys().get("ca.rollover");
  ASSERT_TRUE(shadow_key.has_value());
  EXPECT_EQ(shadow_key->device, "token0");
  EXPECT_EQ(shadow_key->key.token(), "token0");
  std::string objects = hsm_.list_objects("ca-token");
  EXPECT_NE(objects.find("label:      ca.rollover"), std::string::npos) << objects;

  // The CA certificate expires: the shadow takes over, signing on the token.
  dev_.device().clock().set_now(first.not_after() + std::chrono::seconds(1));
  for (int i = 0; i < 4 && (server->state() != ca::ServerState::kEnabled ||
                            *server->info().ca_certificate == first);
       ++i) {
    dev_.device().tick();
  }
  ASSERT_EQ(server->state(), ca::ServerState::kEnabled) << server->reason();
  EXPECT_EQ(*server->info().ca_certificate, *shadow);
  auto key = dev_.device().keys().get("ca");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->token_label, "ca.rollover");
  EXPECT_TRUE(key->key.has_private()) << key->device_error;
  EXPECT_TRUE(key->key.equals_public(*shadow->public_key()));
  EXPECT_FALSE(dev_.device().keys().get("ca.rollover").has_value());
  objects = hsm_.list_objects("ca-token");
  EXPECT_EQ(objects.find("label:      ca\n"), std::string::npos) << objects;  // the old key
  EXPECT_NE(objects.find("label:      ca.rollover"), std::string::npos) << objects;
  EXPECT_NE(running_config(table_, dev_.device()).find("crypto pki server ca"), std::string::npos);

  // The next rollover uses the label the old key freed; a cancel deletes it again.
  ASSERT_OK(server->start_rollover(""));
  shadow_key = dev_.device().keys().get("ca.rollover");
  ASSERT_TRUE(shadow_key.has_value());
  EXPECT_EQ(shadow_key->token_label, "ca");
  EXPECT_TRUE(shadow_key->key.has_private()) << shadow_key->device_error;
  objects = hsm_.list_objects("ca-token");
  EXPECT_NE(objects.find("label:      ca\n"), std::string::npos) << objects;
  ASSERT_OK(server->cancel_rollover());
  objects = hsm_.list_objects("ca-token");
  EXPECT_EQ(objects.find("label:      ca\n"), std::string::npos) << objects;
  EXPECT_NE(objects.find("label:      ca.rollover"), std::string::npos) << objects;

  // The key file says where the key is on the token, for the next start.
  std::ifstream key_file(dev_.nvram("private-keys/ca.key"));
  const std::string stored((std::istreambuf_iterator<char>(key_file)), {});
  EXPECT_NE(stored.find(" on=token0 tokenlabel=ca.rollover\n"), std::string::npos) << stored;
}

}  // namespace
}  // namespace scepter::cli
