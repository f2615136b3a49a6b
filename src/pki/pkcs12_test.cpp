#include "pki/pkcs12.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using test::run;
using test::TempDir;

struct Chain {
  Key root_key = test::ec_key_256();
  Certificate root = test::make_test_ca(root_key, "root");
  Key leaf_key = test::rsa_key_1024();
  Certificate leaf;
};

Chain make_chain() {
  Chain c{.leaf = test::make_test_ca(test::rsa_key_1024(), "placeholder")};
  auto subject = parse_dn("CN=leaf");
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = c.leaf_key});
  auto leaf = issue_certificate(IssueSpec{.csr = *csr,
                                          .ca_cert = c.root,
                                          .ca_key = c.root_key,
                                          .serial = SerialNumber{2},
                                          .not_before = from_unix(test::kNow),
                                          .not_after = from_unix(test::kNow + 86400)});
  c.leaf = *leaf;
  return c;
}

TEST(Pkcs12, RoundTripBothCiphers) {
  const Chain c = make_chain();
  for (Pkcs12Cipher cipher : {Pkcs12Cipher::kAes256, Pkcs12Cipher::kTripleDes}) {
    auto der = make_pkcs12(c.leaf, c.leaf_key, "p12 pass", "mycs", {c.root}, cipher);
    ASSERT_OK(der);
    auto back = parse_pkcs12(*der, "p12 pass");
    ASSERT_OK(back);
    EXPECT_TRUE(back->key.has_private());
    EXPECT_TRUE(back->key.equals_public(c.leaf_key));
    EXPECT_EQ(back->cert, c.leaf);
    ASSERT_EQ(back->chain.size(), 1u);
    EXPECT_EQ(back->chain[0], c.root);

    EXPECT_CODE(parse_pkcs12(*der, "wrong"), Code::kPermissionDenied);
    EXPECT_CODE(parse_pkcs12(*der, ""), Code::kPermissionDenied);

    // OpenSSL 3 reads both without -legacy, and sees the friendly name and ciphers.
    TempDir dir;
    dir.write("f.p12", *der);
    auto out =
        run("openssl pkcs12 -info -nodes -in " + dir.file("f.p12") + " -passin 'pass:p12 pass'");
    ASSERT_EQ(out.status, 0) << out.text;
    EXPECT_NE(out.text.find("friendlyName: mycs"), std::string::npos) << out.text;
    if (cipher == Pkcs12Cipher::kAes256) {
      // The default strength: 600,000 iterations for the key, the certificates and the
      // MAC alike (a cheaper MAC would be the cheaper way to test passphrases).
      for (const char* want :
           {"MAC: sha256, Iteration 600000\n",
            "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF "
            "hmacWithSHA256\n",
            "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF "
            "hmacWithSHA256\n"}) {
        EXPECT_NE(out.text.find(want), std::string::npos) << want << out.text;
      }
    } else {
      EXPECT_NE(out.text.find("MAC: sha1, Iteration 600000\n"), std::string::npos) << out.text;
      EXPECT_NE(out.text.find("pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 600000"),
                std::string::npos)
          << out.text;
    }
  }
}

TEST(Pkcs12, IterationsForTestsAndTheirLimits) {
  const Chain c = make_chain();
  auto der = make_pkcs12(c.leaf, c.leaf_key, "pw", "", {}, Pkcs12Cipher::kAes256, 1000);
  ASSERT_OK(der);
  TempDir dir;
  dir.write("f.p12", *der);
  auto out = run("openssl pkcs12 -info -nokeys -in " + dir.file("f.p12") + " -passin pass:pw");
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("MAC: sha256, Iteration 1000\n"), std::string::npos) << out.text;
  ASSERT_OK(parse_pkcs12(*der, "pw"));
  EXPECT_CODE(make_pkcs12(c.leaf, c.leaf_key, "pw", "", {}, Pkcs12Cipher::kAes256, 0),
              Code::kInvalidArgument);
  EXPECT_CODE(make_pkcs12(c.leaf, c.leaf_key, "pw", "", {}, Pkcs12Cipher::kAes256,
                          kMaxKeyEncryptionIterations + 1),
              Code::kInvalidArgument);
}

TEST(Pkcs12, RefusesAMacAskingForAbsurdIterations) {
  // The MAC's iteration count is read before the (otherwise hours long) verification.
  const Chain c = make_chain();
  TempDir dir;
  dir.write("cert.pem", c.leaf.pem());
  dir.write("key.pem", *c.leaf_key.to_encrypted_pkcs8_pem("pw", 1000));
  auto out =
      run("openssl pkcs12 -export -in " + dir.file("cert.pem") + " -inkey " + dir.file("key.pem") +
          " -passin pass:pw -passout pass:pw -iter 1000 -nomaciter -macalg sha256 -out " +
          dir.file("f.p12"));
  ASSERT_EQ(out.status, 0) << out.text;
  std::string der = dir.read("f.p12");
  ASSERT_OK(parse_pkcs12(der, "pw"));
  // With -nomaciter the MacData ends "... salt, no iterations": append
  // INTEGER 0x7FFFFFFF by hand, fixing the lengths of MacData and the PFX.
  ASSERT_EQ(static_cast<unsigned char>(der[0]), 0x30);
  ASSERT_EQ(static_cast<unsigned char>(der[1]), 0x82);
  const std::string iter("\x02\x04\x7F\xFF\xFF\xFF", 6);
  // MacData = SEQUENCE { DigestInfo (SHA-256), salt }: its tag and length sit just
  // before the DigestInfo's fixed prefix.
  const std::string digest_info("\x30\x31\x30\x0D\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01", 15);
  const std::size_t found = der.rfind(digest_info);
  ASSERT_NE(found, std::string::npos);
  ASSERT_GE(found, 2u);
  const std::size_t mac = found - 2;
  ASSERT_EQ(static_cast<unsigned char>(der[mac]), 0x30);
  ASSERT_EQ(mac + 2 + static_cast<unsigned char>(der[mac + 1]), der.size());
  der[mac + 1] = static_cast<char>(static_cast<unsigned char>(der[mac + 1]) + iter.size());
  der += iter;
  const std::size_t body = der.size() - 4;
  der[2] = static_cast<char>(body >> 8);
  der[3] = static_cast<char>(body & 0xFF);
  dir.write("g.p12", der);
  auto info = run("openssl pkcs12 -info -noout -in " + dir.file("g.p12") +
                  " -passin pass:pw -nomacver 2>&1; openssl asn1parse -inform DER -in " +
                  dir.file("g.p12") + " | tail -3");
  EXPECT_NE(info.text.find(":7FFFFFFF"), std::string::npos) << info.text;
  EXPECT_CODE(parse_pkcs12(der, "pw"), Code::kInvalidArgument);
}

TEST(Pkcs12, ReadsFilesMadeByOpenssl) {
  const Chain c = make_chain();
  TempDir dir;
  dir.write("cert.pem", c.leaf.pem());
  dir.write("ca.pem", c.root.pem());
  dir.write("key.pem", *c.leaf_key.to_encrypted_pkcs8_pem("kp", 1000));
  for (const std::string extra : {"", " -legacy"}) {
    auto out = run("openssl pkcs12 -export -in " + dir.file("cert.pem") + " -inkey " +
                   dir.file("key.pem") + " -passin pass:kp -certfile " + dir.file("ca.pem") +
                   " -name x -passout pass:pw -out " + dir.file("o.p12") + extra);
    if (out.status != 0 && !extra.empty()) continue;  // no legacy provider here
    ASSERT_EQ(out.status, 0) << out.text;
    auto back = parse_pkcs12(dir.read("o.p12"), "pw");
    ASSERT_OK(back) << extra;
    EXPECT_TRUE(back->key.equals_public(c.leaf_key));
    EXPECT_EQ(back->cert, c.leaf);
    ASSERT_EQ(back->chain.size(), 1u);
    EXPECT_CODE(parse_pkcs12(dir.read("o.p12"), "pw2"), Code::kPermissionDenied);
  }
}

TEST(Pkcs12, RejectsBadInput) {
  const Chain c = make_chain();
  EXPECT_CODE(make_pkcs12(c.leaf, c.leaf_key, "", "x"), Code::kInvalidArgument);
  EXPECT_CODE(make_pkcs12(c.leaf, c.root_key, "pw", "x"), Code::kInvalidArgument);
  auto pub = Key::from_public_der(c.leaf_key.public_key_der());
  EXPECT_CODE(make_pkcs12(c.leaf, *pub, "pw", "x"), Code::kInvalidArgument);

  auto der = make_pkcs12(c.leaf, c.leaf_key, "pw", "", {}, Pkcs12Cipher::kAes256, 1000);
  ASSERT_OK(der);
  EXPECT_CODE(parse_pkcs12("", "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12("garbage", "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12(der->substr(0, der->size() / 2), "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12(*der + "x", "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12(c.leaf.der(), "pw"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::pki
