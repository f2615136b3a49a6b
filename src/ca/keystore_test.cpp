#include "ca/keystore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "ca/ca_test_support.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

using testing::shared_ca_key;

class KeyStoreTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.file("keys"); }
  // Few iterations keep these tests fast; one test below checks the default.
  std::unique_ptr<KeyStore> open(const std::string& passphrase = "master", int iterations = 1000) {
    auto ks = KeyStore::open(dir(), passphrase, iterations);
    EXPECT_OK(ks);
    return ks.has_value() ? std::move(*ks) : nullptr;
  }

  store::testing::TempDir tmp_;
};

// The compare-and-set of a caller that made a key outside the store's lock: the first
// writer wins, the second is refused and changes nothing, in memory or on disk.
TEST_F(KeyStoreTest, PutIfUnchangedHasOneWinner) {
  auto ks = open();
  ASSERT_TRUE(ks);
  auto first = pki::Key::generate_ec(256);
  auto second = pki::Key::generate_ec(256);
  ASSERT_OK(first);
  ASSERT_OK(second);
  // Both writers saw no key "k"; the first stores, the second is refused.
  ASSERT_OK(ks->put_if_unchanged({"k", *first}, std::nullopt));
  EXPECT_CODE(ks->put_if_unchanged({"k", *second}, std::nullopt), Code::kAlreadyExists);
  ASSERT_TRUE(ks->get("k").has_value());
  EXPECT_TRUE(ks->get("k")->key.equals_public(*first));
  // A writer that saw the first key may replace it; one that saw another key may not.
  auto seen = ks->get("k");
  EXPECT_CODE(ks->put_if_unchanged({"k", shared_ca_key()}, KeyEntry{"k", *second}),
              Code::kAlreadyExists);
  ASSERT_OK(ks->put_if_unchanged({"k", *second}, seen));
  EXPECT_TRUE(ks->get("k")->key.equals_public(*second));
  // Removed meanwhile: a writer that saw a key is refused and nothing comes back.
  ASSERT_OK(ks->remove("k"));
  EXPECT_CODE(ks->put_if_unchanged({"k", *first}, seen), Code::kAlreadyExists);
  EXPECT_FALSE(ks->get("k").has_value());
  // The disk agrees with memory.
  ASSERT_OK(ks->put_if_unchanged({"k", *first}, std::nullopt));
  ks.reset();
  ks = open();
  ASSERT_TRUE(ks);
  ASSERT_TRUE(ks->get("k").has_value());
  EXPECT_TRUE(ks->get("k")->key.equals_public(*first));
}

TEST_F(KeyStoreTest, PutGetListRemove) {
  auto ks = open();
  ASSERT_TRUE(ks);
  EXPECT_FALSE(ks->get("a").has_value());
  auto ec = pki::Key::generate_ec(256);
  ASSERT_OK(ks->put({"b", *ec, KeyUsage::kSignature, false, from_unix(1'700'000'000)}));
  ASSERT_OK(ks->put({"a", shared_ca_key(), KeyUsage::kGeneralPurpose, true, from_unix(1)}));
  auto a = ks->get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->key.equals_public(shared_ca_key()));
  EXPECT_TRUE(a->exportable);
  auto list = ks->list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].label, "a");
  EXPECT_EQ(list[1].label, "b");
  ASSERT_OK(ks->remove("a"));
  EXPECT_FALSE(ks->get("a").has_value());
  EXPECT_FALSE(fs::exists(dir() + "/a.key"));
  EXPECT_CODE(ks->remove("a"), Code::kNotFound);
}

TEST_F(KeyStoreTest, KeysAreEncryptedFilesReadableOnlyByTheOwner) {
  auto ks = open();
  ASSERT_TRUE(ks);
  ASSERT_OK(ks->put({"ca", shared_ca_key(), KeyUsage::kGeneralPurpose, false, from_unix(5)}));
  const std::string path = dir() + "/ca.key";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = fs::read_file(path);
  ASSERT_OK(text);
  EXPECT_EQ(text->find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(text->find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  EXPECT_NE(text->find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos);
}

TEST_F(KeyStoreTest, ReopensWithAttributes) {
  {
    auto ks = open();
    ASSERT_TRUE(ks);
    ASSERT_OK(ks->put({"r1", shared_ca_key(), KeyUsage::kUsageKeys, true, from_unix(1234)}));
    auto ec = pki::Key::generate_ec(384);
    ASSERT_OK(ks->put({"e1", *ec, KeyUsage::kEncryption, false, from_unix(99)}));
  }
  auto ks = open();
  ASSERT_TRUE(ks);
  auto r1 = ks->get("r1");
  ASSERT_TRUE(r1.has_value());
  EXPECT_TRUE(r1->key.has_private());
  EXPECT_TRUE(r1->key.equals_public(shared_ca_key()));
  EXPECT_EQ(r1->usage, KeyUsage::kUsageKeys);
  EXPECT_TRUE(r1->exportable);
  EXPECT_EQ(r1->created, from_unix(1234));
  auto e1 = ks->get("e1");
  ASSERT_TRUE(e1.has_value());
  EXPECT_TRUE(e1->key.is_ec());
  EXPECT_EQ(e1->key.bits(), 384);
  EXPECT_EQ(e1->usage, KeyUsage::kEncryption);
  EXPECT_FALSE(e1->exportable);
}

// Usage keys: two pairs under one label, both back after a restart, the signature pair
// first; the encryption pair is what decrypts.
TEST_F(KeyStoreTest, UsageKeysKeepBothPairs) {
  auto enc = pki::Key::generate_rsa(1024);
  ASSERT_OK(enc);
  {
    auto ks = open();
    ASSERT_TRUE(ks);
    KeyEntry entry{"uk", shared_ca_key(), KeyUsage::kUsageKeys, false, from_unix(77), *enc};
    ASSERT_OK(ks->put(entry));
    // A general-purpose key has one pair: a second one is refused, nothing written.
    KeyEntry wrong{"gp", shared_ca_key(), KeyUsage::kGeneralPurpose, false, from_unix(77), *enc};
    EXPECT_EQ(ks->put(wrong).code(), Code::kInvalidArgument);
    EXPECT_FALSE(ks->get("gp").has_value());
  }
  auto ks = open();
  ASSERT_TRUE(ks);
  auto uk = ks->get("uk");
  ASSERT_TRUE(uk.has_value());
  EXPECT_EQ(uk->usage, KeyUsage::kUsageKeys);
  EXPECT_TRUE(uk->key.equals_public(shared_ca_key()));
  ASSERT_TRUE(uk->encryption_key.has_value());
  EXPECT_TRUE(uk->encryption_key->has_private());
  EXPECT_TRUE(uk->encryption_key->equals_public(*enc));
  EXPECT_TRUE(uk->decryption_key().equals_public(*enc));
  // A usage-keys label with one pair (as older versions wrote it) decrypts with it.
  auto r1 = ks->get("uk");
  r1->encryption_key.reset();
  EXPECT_TRUE(r1->decryption_key().equals_public(shared_ca_key()));
}

TEST_F(KeyStoreTest, WrongMasterPassphraseIsPermissionDenied) {
  {
    auto ks = open("right");
    ASSERT_TRUE(ks);
    ASSERT_OK(ks->put({"ca", shared_ca_key(), KeyUsage::kGeneralPurpose, false, from_unix(1)}));
  }
  auto wrong = KeyStore::open(dir(), "wrong");
  EXPECT_CODE(wrong, Code::kPermissionDenied);
  EXPECT_NE(wrong.error().message().find("ca"), std::string::npos);
  EXPECT_TRUE(open("right"));
}

TEST_F(KeyStoreTest, KeysAreProtectedWithPbes2Aes256AndManyIterations) {
  auto ks = open("master", pki::kKeyEncryptionIterations);
  ASSERT_TRUE(ks);
  ASSERT_OK(ks->put({"ca", shared_ca_key(), KeyUsage::kGeneralPurpose, false, from_unix(5)}));
  auto text = fs::read_file(dir() + "/ca.key");
  ASSERT_OK(text);
  auto p = pki::pkcs8_protection(*text);
  ASSERT_OK(p);
  EXPECT_EQ(p->scheme, "PBES2");
  EXPECT_EQ(p->kdf, "PBKDF2");
  EXPECT_EQ(p->prf, "hmacWithSHA256");
  EXPECT_EQ(p->cipher, "aes-256-cbc");
  EXPECT_EQ(p->iterations, 600'000);
}

TEST_F(KeyStoreTest, OldKeyFilesAreReadAndReEncrypted) {
  ASSERT_OK(fs::make_dirs(dir()));
  // What an older scepter wrote: OpenSSL's default of 2048 iterations.
  auto old_pem = shared_ca_key().to_encrypted_pkcs8_pem("master", 2048);
  ASSERT_OK(old_pem);
  ASSERT_OK(fs::write_atomic(dir() + "/old.key",
                             "# scepter-key usage=signature exportable=yes created=77\n" + *old_pem,
                             0600));
  // And a 3DES traditional PEM.
  auto trad = pki::Key::generate_ec(256);
  ASSERT_OK(trad);
  auto trad_pem = trad->to_traditional_pem("master", pki::PemCipher::kTripleDes);
  ASSERT_OK(trad_pem);
  ASSERT_OK(fs::write_atomic(dir() + "/trad.key", *trad_pem, 0600));

  auto ks = KeyStore::open(dir(), "master", 4096);
  ASSERT_OK(ks);
  auto old = (*ks)->get("old");
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->key.equals_public(shared_ca_key()));
  EXPECT_EQ(old->usage, KeyUsage::kSignature);
  EXPECT_EQ(old->created, from_unix(77));
  auto trad_entry = (*ks)->get("trad");
  ASSERT_TRUE(trad_entry.has_value());
  EXPECT_TRUE(trad_entry->key.equals_public(*trad));
  for (const char* name : {"/old.key", "/trad.key"}) {
    auto text = fs::read_file(dir() + name);
    ASSERT_OK(text);
    auto p = pki::pkcs8_protection(*text);
    ASSERT_OK(p) << name;
    EXPECT_EQ(p->cipher, "aes-256-cbc") << name;
    EXPECT_EQ(p->iterations, 4096) << name;
    EXPECT_TRUE(text->starts_with("# scepter-key")) << name;
  }
  // A second open finds nothing to upgrade and still reads the attributes.
  auto again = KeyStore::open(dir(), "master", 4096);
  ASSERT_OK(again);
  EXPECT_EQ((*again)->get("old")->created, from_unix(77));
}

TEST_F(KeyStoreTest, CorruptAttributeLineKeepsTheKey) {
  ASSERT_OK(fs::make_dirs(dir()));
  auto pem = shared_ca_key().to_encrypted_pkcs8_pem("master", 1000);
  ASSERT_OK(pem);
  for (const std::string created : {"99999999999999999999999", "12abc", "", "-"}) {
    ASSERT_OK(fs::write_atomic(
        dir() + "/k.key", "# scepter-key usage=signature created=" + created + "\n" + *pem, 0600));
    auto ks = KeyStore::open(dir(), "master", 1000);
    ASSERT_OK(ks) << created;
    auto k = (*ks)->get("k");
    ASSERT_TRUE(k.has_value()) << created;
    EXPECT_EQ(k->usage, KeyUsage::kSignature);
    EXPECT_EQ(k->created, TimePoint{}) << created;
  }
}

TEST_F(KeyStoreTest, LabelRules) {
  EXPECT_OK(KeyStore::check_label("mycs"));
  EXPECT_OK(KeyStore::check_label("a.b_c-9"));
  EXPECT_OK(KeyStore::check_label(std::string(64, 'x')));
  for (const std::string& bad :
       std::vector<std::string>{"", "..", ".", "a/b", "a b", "ü", std::string(65, 'x')}) {
    EXPECT_CODE(KeyStore::check_label(bad), Code::kInvalidArgument) << bad;
  }
  auto ks = open();
  ASSERT_TRUE(ks);
  EXPECT_CODE(ks->put({"../evil", shared_ca_key()}), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::ca
