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
                                          .serial = 2,
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
        run("openssl pkcs12 -info -nokeys -in " + dir.file("f.p12") + " -passin 'pass:p12 pass'");
    ASSERT_EQ(out.status, 0) << out.text;
    EXPECT_NE(out.text.find("friendlyName: mycs"), std::string::npos) << out.text;
    if (cipher == Pkcs12Cipher::kAes256) {
      EXPECT_NE(out.text.find("MAC: sha256"), std::string::npos) << out.text;
      EXPECT_NE(out.text.find("AES-256-CBC"), std::string::npos) << out.text;
    } else {
      EXPECT_NE(out.text.find("MAC: sha1"), std::string::npos) << out.text;
      EXPECT_NE(out.text.find("pbeWithSHA1And3-KeyTripleDES-CBC"), std::string::npos) << out.text;
    }
  }
}

TEST(Pkcs12, ReadsFilesMadeByOpenssl) {
  const Chain c = make_chain();
  TempDir dir;
  dir.write("cert.pem", c.leaf.pem());
  dir.write("ca.pem", c.root.pem());
  dir.write("key.pem", *c.leaf_key.to_pkcs8_encrypted_pem("kp"));
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

  auto der = make_pkcs12(c.leaf, c.leaf_key, "pw", "");
  ASSERT_OK(der);
  EXPECT_CODE(parse_pkcs12("", "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12("garbage", "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12(der->substr(0, der->size() / 2), "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12(*der + "x", "pw"), Code::kInvalidArgument);
  EXPECT_CODE(parse_pkcs12(c.leaf.der(), "pw"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::pki
