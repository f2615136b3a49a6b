#include "pki/key.h"

#include <gtest/gtest.h>

#include <openssl/provider.h>

#include "common/testing.h"
#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using test::run;
using test::TempDir;

TEST(Key, GeneratesRsa) {
  auto key = Key::generate_rsa(512);
  ASSERT_OK(key);
  EXPECT_TRUE(key->is_rsa());
  EXPECT_FALSE(key->is_ec());
  EXPECT_TRUE(key->has_private());
  EXPECT_EQ(key->bits(), 512);
  EXPECT_EQ(test::rsa_key_2048().bits(), 2048);
}

TEST(Key, RejectsRsaSizesOpensslRefuses) {
  auto key = Key::generate_rsa(511);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), Code::kInvalidArgument);
  EXPECT_NE(key.error().message().find("512"), std::string::npos) << key.error().message();
  EXPECT_CODE(Key::generate_rsa(0), Code::kInvalidArgument);
  EXPECT_CODE(Key::generate_rsa(-1), Code::kInvalidArgument);
  EXPECT_CODE(Key::generate_rsa(100000), Code::kInvalidArgument);
}

TEST(Key, GeneratesEc) {
  for (int bits : {256, 384}) {
    auto key = Key::generate_ec(bits);
    ASSERT_OK(key);
    EXPECT_TRUE(key->is_ec());
    EXPECT_EQ(key->bits(), bits);
  }
  EXPECT_CODE(Key::generate_ec(521), Code::kInvalidArgument);
  EXPECT_CODE(Key::generate_ec(0), Code::kInvalidArgument);
}

TEST(Key, CopiesShareTheKey) {
  const Key& original = test::ec_key_256();
  Key copy = original;
  EXPECT_EQ(copy.evp(), original.evp());
  EXPECT_TRUE(copy.equals_public(original));
  Key assigned = *Key::generate_ec(256);
  EXPECT_FALSE(assigned.equals_public(original));
  assigned = copy;
  EXPECT_TRUE(assigned.equals_public(original));
  EXPECT_TRUE(assigned.has_private());
}

TEST(Key, EncryptedPkcs8IsPbes2Aes256WithStrongPbkdf2) {
  const Key& key = test::rsa_key_1024();
  auto pem = key.to_encrypted_pkcs8_pem("s3cret pass");  // the default: 600,000 iterations
  ASSERT_OK(pem);
  EXPECT_EQ(pem->rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----\n", 0), 0u);
  auto back = Key::from_pem(*pem, "s3cret pass");
  ASSERT_OK(back);
  EXPECT_TRUE(back->has_private());
  EXPECT_TRUE(back->equals_public(key));
  EXPECT_CODE(Key::from_pem(*pem, "wrong"), Code::kPermissionDenied);
  EXPECT_CODE(Key::from_pem(*pem, ""), Code::kPermissionDenied);
  EXPECT_CODE(key.to_encrypted_pkcs8_pem(""), Code::kInvalidArgument);
  EXPECT_CODE(key.to_encrypted_pkcs8_pem("x", 0), Code::kInvalidArgument);

  // Our own reading of the parameters...
  auto p = pkcs8_protection(*pem);
  ASSERT_OK(p);
  EXPECT_EQ(p->scheme, "PBES2");
  EXPECT_EQ(p->kdf, "PBKDF2");
  EXPECT_EQ(p->prf, "hmacWithSHA256");
  EXPECT_EQ(p->cipher, "aes-256-cbc");
  EXPECT_EQ(p->iterations, 600'000);
  EXPECT_EQ(p->salt_length, 16u);

  // ...and an independent one: OpenSSL decrypts it and its ASN.1 dump shows PBES2,
  // PBKDF2 with 600000 (0x0927C0) iterations and HMAC-SHA256, and AES-256-CBC.
  TempDir dir;
  dir.write("k.pem", *pem);
  auto out = run("openssl pkcs8 -in " + dir.file("k.pem") +
                 " -passin pass:'s3cret pass' -nocrypt -topk8 -out /dev/null && "
                 "openssl asn1parse -in " +
                 dir.file("k.pem"));
  ASSERT_EQ(out.status, 0) << out.text;
  for (const char* want :
       {":PBES2", ":PBKDF2", "INTEGER           :0927C0", ":hmacWithSHA256", ":aes-256-cbc"}) {
    EXPECT_NE(out.text.find(want), std::string::npos) << want << "\n" << out.text;
  }
}

TEST(Key, EncryptedPkcs8WithFewerIterationsForTests) {
  const Key& key = test::ec_key_256();
  auto pem = key.to_encrypted_pkcs8_pem("pw", 1000);
  ASSERT_OK(pem);
  EXPECT_EQ(pkcs8_protection(*pem)->iterations, 1000);
  auto back = Key::from_pem(*pem, "pw");
  ASSERT_OK(back);
  EXPECT_TRUE(back->equals_public(key));
}

TEST(Key, ReadsOldEncryptions) {
  // Files written before: OpenSSL's PKCS#8 default (2048 iterations), PBES1, and the
  // traditional 3DES PEM of the old archive.
  TempDir dir;
  const std::string d = dir.file("");
  auto out = run("cd " + d +
                 " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out p8.pem"
                 " && openssl pkcs8 -topk8 -in p8.pem -v2 aes-256-cbc -passout pass:pw"
                 " -out v2.pem"
                 " && openssl pkcs8 -topk8 -in p8.pem -v1 PBE-SHA1-3DES -passout pass:pw"
                 " -out v1.pem"
                 " && openssl rsa -in p8.pem -traditional -des3 -passout pass:pw -out des3.pem");
  ASSERT_EQ(out.status, 0) << out.text;
  auto plain = Key::from_pem(dir.read("p8.pem"));
  ASSERT_OK(plain);
  for (const char* f : {"v2.pem", "v1.pem", "des3.pem"}) {
    auto k = Key::from_pem(dir.read(f), "pw");
    ASSERT_OK(k) << f;
    EXPECT_TRUE(k->equals_public(*plain)) << f;
  }
  auto v2 = pkcs8_protection(dir.read("v2.pem"));
  ASSERT_OK(v2);
  EXPECT_EQ(v2->iterations, 2048);
  auto v1 = pkcs8_protection(dir.read("v1.pem"));
  ASSERT_OK(v1);
  EXPECT_EQ(v1->scheme, "pbeWithSHA1And3-KeyTripleDES-CBC");
  EXPECT_EQ(v1->iterations, 2048);
  EXPECT_CODE(pkcs8_protection(dir.read("des3.pem")), Code::kInvalidArgument);
}

// An EncryptedPrivateKeyInfo naming `iter` PBKDF2 iterations, with junk ciphertext.
std::string pkcs8_naming_iterations(const TempDir& dir, const std::string& iter) {
  dir.write("gen.cnf",
            "asn1=SEQUENCE:epki\n"
            "[epki]\nalg=SEQUENCE:alg\ndata=FORMAT:HEX,OCTETSTRING:"
            "00112233445566778899AABBCCDDEEFF\n"
            "[alg]\noid=OID:PBES2\nparams=SEQUENCE:pbes2\n"
            "[pbes2]\nkdf=SEQUENCE:kdf\nenc=SEQUENCE:enc\n"
            "[kdf]\noid=OID:PBKDF2\np=SEQUENCE:kdfp\n"
            "[kdfp]\nsalt=FORMAT:HEX,OCTETSTRING:0011223344556677\niter=INTEGER:" +
                iter +
                "\nprf=SEQUENCE:prf\n"
                "[prf]\noid=OID:hmacWithSHA256\nnull=NULL\n"
                "[enc]\noid=OID:aes-256-cbc\niv=FORMAT:HEX,OCTETSTRING:"
                "00112233445566778899AABBCCDDEEFF\n");
  auto out = run("openssl asn1parse -genconf " + dir.file("gen.cnf") + " -noout -out " +
                 dir.file("gen.der"));
  EXPECT_EQ(out.status, 0) << out.text;
  return pem_encode("ENCRYPTED PRIVATE KEY", dir.read("gen.der"));
}

TEST(Key, RefusesAbsurdIterationCountsBeforeDecrypting) {
  TempDir dir;
  // 2^31-1 rounds would hold the thread for hours (this test would time out): the count
  // is read and refused before any key derivation.
  const std::string slow = pkcs8_naming_iterations(dir, "2147483647");
  auto p = pkcs8_protection(slow);
  ASSERT_OK(p);
  EXPECT_EQ(p->iterations, 2147483647);
  EXPECT_EQ(p->prf, "hmacWithSHA256");
  auto k = Key::from_pem(slow, "pw");
  EXPECT_CODE(k, Code::kInvalidArgument);
  EXPECT_NE(k.error().message().find("2147483647"), std::string::npos) << k.error().message();
  // A sane count goes on to decryption, which fails on the junk ciphertext.
  EXPECT_CODE(Key::from_pem(pkcs8_naming_iterations(dir, "1000"), "pw"), Code::kPermissionDenied);
  EXPECT_CODE(test::ec_key_256().to_encrypted_pkcs8_pem("pw", kMaxKeyEncryptionIterations + 1),
              Code::kInvalidArgument);
}

TEST(Key, TraditionalPemLikeIosExport) {
  const Key& key = test::rsa_key_1024();
  TempDir dir;
  struct Case {
    PemCipher cipher;
    const char* dek;
  };
  for (const Case& c : {Case{PemCipher::kTripleDes, "DEK-Info: DES-EDE3-CBC,"},
                        Case{PemCipher::kAes256, "DEK-Info: AES-256-CBC,"},
                        Case{PemCipher::kDes, "DEK-Info: DES-CBC,"}}) {
    auto pem = key.to_traditional_pem("cisco123", c.cipher);
    if (!pem && c.cipher == PemCipher::kDes && pem.error().code() == Code::kUnavailable) {
      continue;  // no legacy provider on this machine
    }
    ASSERT_OK(pem);
    EXPECT_EQ(pem->rfind("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n", 0), 0u)
        << *pem;
    EXPECT_NE(pem->find(c.dek), std::string::npos) << *pem;
    auto back = Key::from_pem(*pem, "cisco123");
    ASSERT_OK(back);
    EXPECT_TRUE(back->equals_public(key));
    EXPECT_CODE(Key::from_pem(*pem, "cisco124"), Code::kPermissionDenied);

    dir.write("t.pem", *pem);
    auto out = run("openssl rsa -in " + dir.file("t.pem") +
                   " -passin pass:cisco123 -check -noout -provider default -provider legacy");
    EXPECT_EQ(out.status, 0) << out.text;
  }
  auto ec = test::ec_key_256().to_traditional_pem("pw", PemCipher::kAes256);
  ASSERT_OK(ec);
  EXPECT_EQ(ec->rfind("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n", 0), 0u);
  EXPECT_CODE(key.to_traditional_pem("", PemCipher::kAes256), Code::kInvalidArgument);
}

TEST(Key, ReadsKeysMadeByOpenssl) {
  TempDir dir;
  const std::string d = dir.file("");
  auto out = run("cd " + d +
                 " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out p8.pem"
                 " && openssl rsa -in p8.pem -traditional -out trad.pem"
                 " && openssl rsa -in p8.pem -traditional -aes128 -passout pass:pw -out tenc.pem"
                 " && openssl pkcs8 -topk8 -in p8.pem -v2 aes-256-cbc -passout pass:pw -out p8e.pem"
                 " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec.pem"
                 " && openssl ec -in ec.pem -out ectrad.pem"
                 " && openssl pkey -in p8.pem -pubout -out pub.pem");
  ASSERT_EQ(out.status, 0) << out.text;
  auto p8 = Key::from_pem(dir.read("p8.pem"));
  ASSERT_OK(p8);
  EXPECT_TRUE(p8->is_rsa());
  EXPECT_EQ(p8->bits(), 1024);
  for (const char* f : {"trad.pem", "tenc.pem", "p8e.pem"}) {
    auto k = Key::from_pem(dir.read(f), "pw");
    ASSERT_OK(k) << f;
    EXPECT_TRUE(k->has_private()) << f;
    EXPECT_TRUE(k->equals_public(*p8)) << f;
  }
  EXPECT_CODE(Key::from_pem(dir.read("tenc.pem")), Code::kPermissionDenied);
  auto ec = Key::from_pem(dir.read("ec.pem"));
  ASSERT_OK(ec);
  EXPECT_TRUE(ec->is_ec());
  EXPECT_EQ(ec->bits(), 384);
  auto ectrad = Key::from_pem(dir.read("ectrad.pem"));
  ASSERT_OK(ectrad);
  EXPECT_TRUE(ectrad->equals_public(*ec));
  EXPECT_FALSE(ec->equals_public(*p8));

  // Public key: same PEM as OpenSSL writes, and readable as a public-only key.
  EXPECT_EQ(p8->public_pem(), dir.read("pub.pem"));
  auto pub = Key::from_pem(dir.read("pub.pem"));
  ASSERT_OK(pub);
  EXPECT_FALSE(pub->has_private());
  EXPECT_TRUE(pub->equals_public(*p8));
  EXPECT_CODE(pub->to_encrypted_pkcs8_pem("x"), Code::kInvalidArgument);
  auto from_der = Key::from_public_der(p8->public_key_der());
  ASSERT_OK(from_der);
  EXPECT_FALSE(from_der->has_private());
  EXPECT_TRUE(from_der->equals_public(*p8));
}

// from_public_der imports canonical RSA and EC keys from their numbers (no OpenSSL
// decoder); the result must be the key d2i_PUBKEY reads, with the same bytes. Other
// encodings still go through d2i_PUBKEY.
TEST(Key, FromPublicDerImportsWhatD2iReads) {
  for (const Key* key : {&test::rsa_key_1024(), &test::ec_key_256()}) {
    const std::string spki = key->public_key_der();
    auto imported = Key::from_public_der(spki);
    ASSERT_OK(imported);
    EXPECT_FALSE(imported->has_private());
    EXPECT_EQ(imported->public_key_der(), spki);
    EXPECT_EQ(to_der(i2d_PUBKEY, imported->evp()), spki);
    EXPECT_EQ(EVP_PKEY_eq(imported->evp(), key->evp()), 1);
    EXPECT_EQ(imported->bits(), key->bits());
    EXPECT_EQ(imported->is_rsa(), key->is_rsa());
  }
  auto p384 = Key::generate_ec(384);
  ASSERT_OK(p384);
  auto imported = Key::from_public_der(p384->public_key_der());
  ASSERT_OK(imported);
  EXPECT_EQ(EVP_PKEY_eq(imported->evp(), p384->evp()), 1);

  // RSA with the NULL parameters left out: not canonical, read by d2i_PUBKEY and encoded
  // again in the canonical form.
  const std::string rsa = test::rsa_key_1024().public_key_der();
  static constexpr std::string_view kNull("\x05\x00", 2);
  const std::size_t null_at = rsa.find(kNull);
  ASSERT_NE(null_at, std::string::npos);
  std::string no_null = rsa;
  no_null.erase(null_at, 2);
  ASSERT_EQ(static_cast<unsigned char>(rsa[1]), 0x81);  // 30 81 LL 30 0d ...
  no_null[2] = static_cast<char>(static_cast<unsigned char>(no_null[2]) - 2);
  no_null[4] = static_cast<char>(static_cast<unsigned char>(no_null[4]) - 2);
  auto lenient = Key::from_public_der(no_null);
  ASSERT_OK(lenient);
  EXPECT_EQ(EVP_PKEY_eq(lenient->evp(), test::rsa_key_1024().evp()), 1);
  EXPECT_EQ(lenient->public_key_der(), rsa);

  // An EC point that is not on the curve is refused.
  std::string off_curve = test::ec_key_256().public_key_der();
  off_curve.back() ^= 0x01;
  EXPECT_CODE(Key::from_public_der(off_curve), Code::kInvalidArgument);
}

TEST(Key, RejectsBadInput) {
  EXPECT_CODE(Key::from_pem(""), Code::kInvalidArgument);
  EXPECT_CODE(Key::from_pem("hello"), Code::kInvalidArgument);
  EXPECT_CODE(Key::from_pem(pem_encode("PRIVATE KEY", "\x30\x03\x02\x01\x00")),
              Code::kInvalidArgument);
  EXPECT_CODE(Key::from_pem(pem_encode("CERTIFICATE", "\x30\x00")), Code::kInvalidArgument);
  const std::string spki = test::ec_key_256().public_key_der();
  EXPECT_CODE(Key::from_public_der(spki.substr(0, spki.size() - 1)), Code::kInvalidArgument);
  EXPECT_CODE(Key::from_public_der(spki + "x"), Code::kInvalidArgument);
  EXPECT_CODE(Key::from_public_der(""), Code::kInvalidArgument);
  EXPECT_CODE(Key::from_evp(nullptr), Code::kInvalidArgument);
}

TEST(Key, IosKeyData) {
  const Key& key = test::rsa_key_1024();
  const std::string data = ios_key_data(key);
  // 1024-bit RSA SPKI is 162 bytes = 324 hex digits: 5 full lines of 64 and one of 4.
  EXPECT_EQ(data.rfind("  30819F30 0D06092A 864886F7 0D010101 05000381 8D003081 89028181 ", 0), 0u)
      << data;
  std::string joined;
  std::size_t lines = 0;
  std::size_t start = 0;
  while (start < data.size()) {
    const std::size_t end = data.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = data.substr(start, end - start);
    ASSERT_EQ(line.substr(0, 2), "  ");
    if (end + 1 < data.size()) {
      EXPECT_EQ(line.size(), 2u + 8 * 8 + 7);
    }
    for (char c : line.substr(2)) {
      if (c != ' ') joined.push_back(c);
    }
    start = end + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 6u);
  EXPECT_EQ(joined, hex_upper(key.public_key_der()));
}

}  // namespace
}  // namespace scepter::pki

namespace scepter::pki {
namespace {

// Reading keys in the encryptions OpenSSL's default provider does (ours, and IOS's 3DES
// and AES exports) leaves the legacy provider unloaded: once loaded, it makes every
// public-key decode of the process about twice as costly.
TEST(Key, OwnEncryptionDoesNotLoadTheLegacyProvider) {
  if (OSSL_PROVIDER_available(nullptr, "legacy") == 1) {
    GTEST_SKIP() << "another test in this process loaded the legacy provider";
  }
  const Key& key = test::rsa_key_1024();
  auto pkcs8 = key.to_encrypted_pkcs8_pem("secret", 1000);
  ASSERT_OK(pkcs8);
  ASSERT_OK(Key::from_pem(*pkcs8, "secret"));
  auto des3 = key.to_traditional_pem("secret", PemCipher::kTripleDes);
  ASSERT_OK(des3);
  ASSERT_OK(Key::from_pem(*des3, "secret"));
  auto aes = key.to_traditional_pem("secret", PemCipher::kAes256);
  ASSERT_OK(aes);
  ASSERT_OK(Key::from_pem(*aes, "secret"));
  EXPECT_NE(OSSL_PROVIDER_available(nullptr, "legacy"), 1);
}

}  // namespace
}  // namespace scepter::pki
