#include "pki/issuer.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/testing.h"
#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/name.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using test::run;
using test::TempDir;

constexpr char kCdp[] = "http://ca1.example.com/cgi-bin/pkiclient.exe?operation=GetCRL";

std::vector<int> extension_nids(const Certificate& cert) {
  std::vector<int> nids;
  for (int i = 0; i < X509_get_ext_count(cert.x509()); ++i) {
    nids.push_back(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert.x509(), i))));
  }
  return nids;
}

std::string extension_value(const Certificate& cert, int nid) {
  const int i = X509_get_ext_by_NID(cert.x509(), nid, -1);
  if (i < 0) return {};
  return std::string(string_bytes(X509_EXTENSION_get_data(X509_get_ext(cert.x509(), i))));
}

bool extension_critical(const Certificate& cert, int nid) {
  const int i = X509_get_ext_by_NID(cert.x509(), nid, -1);
  return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert.x509(), i)) == 1;
}

// `openssl x509 -noout -text` of a certificate.
std::string openssl_text(const TempDir& dir, const Certificate& cert) {
  dir.write("text.pem", cert.pem());
  auto out = run("openssl x509 -noout -text -in " + dir.file("text.pem"));
  EXPECT_EQ(out.status, 0) << out.text;
  return out.text;
}

// Runs `openssl verify` of `leaf` against `ca`; returns its output, "OK" lines included.
test::Output openssl_verify(const TempDir& dir, const Certificate& ca, const Certificate& leaf) {
  dir.write("ca.pem", ca.pem());
  dir.write("leaf.pem", leaf.pem());
  return run("openssl verify -attime " + std::to_string(test::kNow + 1000) + " -CAfile " +
             dir.file("ca.pem") + " " + dir.file("leaf.pem"));
}

// Asserts that the strings appear in `text` in this order.
void expect_in_order(const std::string& text, const std::vector<std::string>& parts) {
  std::size_t pos = 0;
  for (const std::string& p : parts) {
    const std::size_t at = text.find(p, pos);
    ASSERT_NE(at, std::string::npos) << "missing or out of order: " << p << "\n" << text;
    pos = at + p.size();
  }
}

Csr request(const std::string& dn, const Key& key, std::vector<const X509_EXTENSION*> exts = {}) {
  auto subject = parse_dn(dn);
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = key, .extensions = exts});
  if (!csr) std::abort();
  return *csr;
}

Result<Certificate> issue(const Csr& csr, const Certificate& ca, const Key& ca_key,
                          std::uint64_t serial = 2, std::string cdp = {}, bool allow_ca = false,
                          Hash hash = Hash::kSha256) {
  return issue_certificate(IssueSpec{.csr = csr,
                                     .ca_cert = ca,
                                     .ca_key = ca_key,
                                     .serial = serial,
                                     .not_before = from_unix(test::kNow + 100),
                                     .not_after = from_unix(test::kNow + 100 + 365 * 86400),
                                     .hash = hash,
                                     .cdp_url = std::move(cdp),
                                     .allow_ca = allow_ca});
}

TEST(CaCertificate, HasTheIosShape) {
  const Key& key = test::rsa_key_2048();
  const Certificate ca = test::make_test_ca(key);
  EXPECT_EQ(X509_get_version(ca.x509()), X509_VERSION_3);
  EXPECT_EQ(extension_nids(ca),
            (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_authority_key_identifier,
                              NID_subject_key_identifier}));
  EXPECT_TRUE(extension_critical(ca, NID_basic_constraints));
  EXPECT_TRUE(extension_critical(ca, NID_key_usage));
  EXPECT_FALSE(extension_critical(ca, NID_authority_key_identifier));
  EXPECT_FALSE(extension_critical(ca, NID_subject_key_identifier));
  EXPECT_EQ(extension_value(ca, NID_basic_constraints), std::string("\x30\x03\x01\x01\xFF", 5));
  EXPECT_EQ(extension_value(ca, NID_key_usage), std::string("\x03\x02\x01\x86", 4));
  const std::string ski = ca.subject_key_id();
  ASSERT_EQ(ski.size(), 20u);
  EXPECT_EQ(extension_value(ca, NID_authority_key_identifier),
            std::string("\x30\x16\x80\x14", 4) + ski);
  EXPECT_EQ(ski, key_identifier(key));

  TempDir dir;
  const std::string text = openssl_text(dir, ca);
  expect_in_order(
      text,
      {"Version: 3 (0x2)", "Serial Number: 1 (0x1)", "Signature Algorithm: sha256WithRSAEncryption",
       "Issuer: C = US, O = Test, CN = testca", "Not Before: Jan  4 12:58:34 2025 GMT",
       "Not After : Jan  4 12:58:34 2028 GMT", "Subject: C = US, O = Test, CN = testca",
       "X509v3 Basic Constraints: critical", "CA:TRUE", "X509v3 Key Usage: critical",
       "Digital Signature, Certificate Sign, CRL Sign",
       "X509v3 Authority Key Identifier:", "X509v3 Subject Key Identifier:"});
  EXPECT_EQ(text.find("pathlen"), std::string::npos);
  auto out = openssl_verify(dir, ca, ca);
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_NE(out.text.find(": OK"), std::string::npos) << out.text;
}

// The SKI is RFC 5280 method 1, the same value OpenSSL computes for "hash".
TEST(CaCertificate, KeyIdentifierMatchesOpenssl) {
  const Key& key = test::ec_key_256();
  TempDir dir;
  dir.write("k.pem", *key.to_pkcs8_encrypted_pem("pw"));
  auto out = run("openssl req -x509 -key " + dir.file("k.pem") +
                 " -passin pass:pw -subj /CN=x -addext subjectKeyIdentifier=hash -out " +
                 dir.file("o.pem"));
  ASSERT_EQ(out.status, 0) << out.text;
  auto theirs = Certificate::from_pem(dir.read("o.pem"));
  ASSERT_OK(theirs);
  EXPECT_EQ(theirs->subject_key_id(), key_identifier(key));
}

TEST(CaCertificate, SignsWithTheConfiguredHash) {
  TempDir dir;
  struct Case {
    const Key* key;
    Hash hash;
    const char* algorithm;
  };
  for (const Case& c : {Case{&test::rsa_key_1024(), Hash::kMd5, "md5WithRSAEncryption"},
                        Case{&test::rsa_key_1024(), Hash::kSha1, "sha1WithRSAEncryption"},
                        Case{&test::rsa_key_1024(), Hash::kSha512, "sha512WithRSAEncryption"},
                        Case{&test::ec_key_256(), Hash::kSha384, "ecdsa-with-SHA384"}}) {
    const Certificate ca = test::make_test_ca(*c.key, "h", c.hash);
    EXPECT_NE(openssl_text(dir, ca).find("Signature Algorithm: " + std::string(c.algorithm)),
              std::string::npos)
        << c.algorithm;
    EXPECT_TRUE(ca.signed_by(ca));
  }
}

TEST(CaCertificate, RejectsBadSpecs) {
  auto name = parse_dn("CN=x");
  const Key& key = test::ec_key_256();
  auto make = [&](std::uint64_t serial, std::int64_t nb, std::int64_t na, Hash hash, const Key& k) {
    return make_ca_certificate(CaCertSpec{.subject = name->get(),
                                          .key = k,
                                          .serial = serial,
                                          .not_before = from_unix(nb),
                                          .not_after = from_unix(na),
                                          .hash = hash});
  };
  EXPECT_OK(make(1, test::kNow, test::kNow + 1, Hash::kSha256, key));
  EXPECT_CODE(make(0, test::kNow, test::kNow + 1, Hash::kSha256, key), Code::kInvalidArgument);
  EXPECT_CODE(make(1, test::kNow, test::kNow, Hash::kSha256, key), Code::kInvalidArgument);
  EXPECT_CODE(make(1, test::kNow, test::kNow + 1, Hash::kMd5, key), Code::kInvalidArgument);
  auto pub = Key::from_public_der(key.public_key_der());
  EXPECT_CODE(make(1, test::kNow, test::kNow + 1, Hash::kSha256, *pub), Code::kInvalidArgument);
  // Serials up to 2^64-1 are positive DER INTEGERs.
  auto big = make(~std::uint64_t{0}, test::kNow, test::kNow + 1, Hash::kSha256, key);
  ASSERT_OK(big);
  EXPECT_EQ(*big->serial(), ~std::uint64_t{0});
  EXPECT_EQ(big->serial_hex(), "FFFFFFFFFFFFFFFF");
}

TEST(IssueCertificate, FromAnOpensslRequestLikeIos) {
  const Key& ca_key = test::rsa_key_2048();
  const Certificate ca = test::make_test_ca(ca_key);
  TempDir dir;
  auto out = run("cd " + dir.file("") +
                 " && openssl req -new -newkey rsa:2048 -nodes -keyout k.pem -out r.pem"
                 " -multivalue-rdn"
                 " -subj '/C=RU/O=Otus/OU=VPN/CN=R27/serialNumber=67111345+"
                 "unstructuredName=R27.otus.ru'"
                 " -addext keyUsage=digitalSignature,keyEncipherment"
                 " -addext subjectAltName=DNS:R27.otus.ru");
  ASSERT_EQ(out.status, 0) << out.text;
  auto csr = Csr::parse(dir.read("r.pem"));
  ASSERT_OK(csr);
  auto ee = issue(*csr, ca, ca_key, 2, kCdp);
  ASSERT_OK(ee);

  EXPECT_EQ(ee->serial_hex(), "2");
  EXPECT_NE(ee->der().find(std::string("\x02\x01\x02", 3)), std::string::npos);
  EXPECT_EQ(to_unix(ee->not_before()), test::kNow + 100);
  EXPECT_EQ(to_unix(ee->not_after()), test::kNow + 100 + 365 * 86400);
  EXPECT_EQ(to_der(i2d_X509_NAME, ee->subject()), to_der(i2d_X509_NAME, csr->subject()));
  EXPECT_EQ(to_der(i2d_X509_NAME, ee->issuer()), to_der(i2d_X509_NAME, ca.subject()));
  EXPECT_EQ(format_dn_ios(ee->subject()),
            "serialNumber=67111345+hostname=R27.otus.ru,cn=R27,ou=VPN,o=Otus,c=RU");
  EXPECT_FALSE(ee->is_ca());
  EXPECT_TRUE(ee->signed_by(ca));
  EXPECT_TRUE(ee->public_key()->equals_public(csr->public_key()));
  EXPECT_EQ(extension_nids(*ee),
            (std::vector<int>{NID_key_usage, NID_subject_alt_name, NID_authority_key_identifier,
                              NID_subject_key_identifier, NID_crl_distribution_points}));
  EXPECT_FALSE(extension_critical(*ee, NID_key_usage));
  EXPECT_EQ(extension_value(*ee, NID_key_usage), std::string("\x03\x02\x05\xA0", 4));
  EXPECT_EQ(extension_value(*ee, NID_authority_key_identifier),
            std::string("\x30\x16\x80\x14", 4) + ca.subject_key_id());
  EXPECT_EQ(ee->subject_key_id(), key_identifier(csr->public_key()));

  const std::string text = openssl_text(dir, *ee);
  expect_in_order(text, {"Signature Algorithm: sha256WithRSAEncryption",
                         "X509v3 Key Usage:", "Digital Signature, Key Encipherment",
                         "X509v3 Subject Alternative Name:", "DNS:R27.otus.ru",
                         "X509v3 Authority Key Identifier:", "X509v3 Subject Key Identifier:",
                         "X509v3 CRL Distribution Points:", std::string("URI:") + kCdp});
  EXPECT_EQ(text.find("X509v3 Key Usage: critical"), std::string::npos);
  out = openssl_verify(dir, ca, *ee);
  EXPECT_EQ(out.status, 0) << out.text;
}

TEST(IssueCertificate, NoCdpWithoutUrlAndEcKeys) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key, "ecca", Hash::kSha384);
  for (const Key* key : {&test::rsa_key_1024(), &test::ec_key_256()}) {
    const Csr csr = request("CN=leaf", *key);
    auto ee = issue(csr, ca, ca_key, 7, {}, false, Hash::kSha384);
    ASSERT_OK(ee);
    EXPECT_EQ(extension_nids(*ee),
              (std::vector<int>{NID_authority_key_identifier, NID_subject_key_identifier}));
    TempDir dir;
    auto out = openssl_verify(dir, ca, *ee);
    EXPECT_EQ(out.status, 0) << out.text;
    EXPECT_NE(openssl_text(dir, *ee).find("ecdsa-with-SHA384"), std::string::npos);
  }
  // A URL with a comma stays one URI (no config-string parsing).
  const std::string url = "http://x.example/crl?a=1,2";
  auto ee = issue(request("CN=leaf", test::ec_key_256()), ca, ca_key, 8, url);
  ASSERT_OK(ee);
  TempDir dir;
  EXPECT_NE(openssl_text(dir, *ee).find("URI:" + url + "\n"), std::string::npos);
}

TEST(IssueCertificate, DropsRequestedAkiKeepsRequestedSki) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  // A request carrying its own AKI (bogus) and SKI.
  Ptr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  akid->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>("bogus"), 5);
  Ptr<X509_EXTENSION> aki(X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid.get()));
  Ptr<ASN1_OCTET_STRING> id(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(id.get(), reinterpret_cast<const unsigned char*>("my-own-id"), 9);
  Ptr<X509_EXTENSION> ski(X509V3_EXT_i2d(NID_subject_key_identifier, 0, id.get()));
  Ptr<X509_EXTENSION> eku(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "serverAuth,clientAuth"));
  const Csr csr = request("CN=own", test::rsa_key_1024(), {aki.get(), ski.get(), eku.get()});
  ASSERT_EQ(csr.requested_extensions().size(), 3u);
  auto ee = issue(csr, ca, ca_key);
  ASSERT_OK(ee);
  EXPECT_EQ(extension_nids(*ee), (std::vector<int>{NID_subject_key_identifier, NID_ext_key_usage,
                                                   NID_authority_key_identifier}));
  EXPECT_EQ(ee->subject_key_id(), "my-own-id");
  EXPECT_EQ(extension_value(*ee, NID_authority_key_identifier),
            std::string("\x30\x16\x80\x14", 4) + ca.subject_key_id());
}

TEST(IssueCertificate, CaRequestNeedsPermission) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  Ptr<X509_EXTENSION> bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
  Ptr<X509_EXTENSION> ku(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign"));
  const Csr csr = request("CN=subca", test::rsa_key_1024(), {bc.get(), ku.get()});
  EXPECT_CODE(issue(csr, ca, ca_key), Code::kPermissionDenied);
  auto sub = issue(csr, ca, ca_key, 3, {}, true);
  ASSERT_OK(sub);
  EXPECT_TRUE(sub->is_ca());
  TempDir dir;
  auto out = openssl_verify(dir, ca, *sub);
  EXPECT_EQ(out.status, 0) << out.text;
  // CA:FALSE is not a CA request.
  Ptr<X509_EXTENSION> ee_bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "CA:FALSE"));
  EXPECT_OK(issue(request("CN=ee", test::rsa_key_1024(), {ee_bc.get()}), ca, ca_key));
}

TEST(IssueCertificate, RejectsBadInput) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  const Csr csr = request("CN=leaf", test::rsa_key_1024());
  EXPECT_CODE(issue(csr, ca, ca_key, 0), Code::kInvalidArgument);
  EXPECT_CODE(issue(csr, ca, test::rsa_key_1024()), Code::kInvalidArgument);  // wrong CA key
  EXPECT_CODE(issue(csr, ca, ca_key, 2, {}, false, Hash::kMd5), Code::kInvalidArgument);
  EXPECT_CODE(issue_certificate(IssueSpec{.csr = csr,
                                          .ca_cert = ca,
                                          .ca_key = ca_key,
                                          .serial = 2,
                                          .not_before = from_unix(test::kNow),
                                          .not_after = from_unix(test::kNow - 1)}),
              Code::kInvalidArgument);
  std::string der = csr.der();
  der[der.size() - 3] ^= 0x40;
  auto tampered = Csr::parse(der);
  ASSERT_OK(tampered);
  EXPECT_CODE(issue(*tampered, ca, ca_key), Code::kInvalidArgument);
}

TEST(IssueCertificate, SharedCaKeyFromSeveralThreads) {
  const Key& ca_key = test::rsa_key_2048();
  const Certificate ca = test::make_test_ca(ca_key);
  const Csr csr = request("CN=many", test::ec_key_256());
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::uint64_t serial = 100 + static_cast<std::uint64_t>(t * 10 + i);
        auto ee = issue(csr, ca, ca_key, serial);
        if (ee && ee->signed_by(ca) && *ee->serial() == serial) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 40);
}

}  // namespace
}  // namespace scepter::pki
