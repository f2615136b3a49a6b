#include "pki/issuer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "common/testing.h"
#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/issuer_test_support.h"
#include "pki/name.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using namespace issuer_testing;

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
  EXPECT_EQ(big->serial()->sequence, ~std::uint64_t{0});
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
            (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_subject_alt_name,
                              NID_authority_key_identifier, NID_subject_key_identifier,
                              NID_crl_distribution_points}));
  EXPECT_TRUE(extension_critical(*ee, NID_basic_constraints));
  EXPECT_EQ(extension_value(*ee, NID_basic_constraints), std::string("\x30\x00", 2));
  EXPECT_TRUE(extension_critical(*ee, NID_key_usage));
  EXPECT_EQ(extension_value(*ee, NID_key_usage), std::string("\x03\x02\x05\xA0", 4));
  EXPECT_FALSE(extension_critical(*ee, NID_subject_alt_name));
  EXPECT_EQ(extension_value(*ee, NID_authority_key_identifier),
            std::string("\x30\x16\x80\x14", 4) + ca.subject_key_id());
  EXPECT_EQ(ee->subject_key_id(), key_identifier(csr->public_key()));

  const std::string text = openssl_text(dir, *ee);
  expect_in_order(
      text, {"Signature Algorithm: sha256WithRSAEncryption", "X509v3 Basic Constraints: critical",
             "CA:FALSE", "X509v3 Key Usage: critical", "Digital Signature, Key Encipherment",
             "X509v3 Subject Alternative Name:", "DNS:R27.otus.ru",
             "X509v3 Authority Key Identifier:", "X509v3 Subject Key Identifier:",
             "X509v3 CRL Distribution Points:", std::string("URI:") + kCdp});
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
              (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_authority_key_identifier,
                                NID_subject_key_identifier}));
    // digitalSignature+keyEncipherment for RSA, digitalSignature+keyAgreement for EC.
    EXPECT_EQ(extension_value(*ee, NID_key_usage), key->is_rsa()
                                                       ? std::string("\x03\x02\x05\xA0", 4)
                                                       : std::string("\x03\x02\x03\x88", 4));
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

// An extension OpenSSL has no encoder for: `oid` with arbitrary content.
Ptr<X509_EXTENSION> raw_ext(const char* oid, bool critical, const std::string& value) {
  Ptr<ASN1_OBJECT> obj(OBJ_txt2obj(oid, 1));
  Ptr<ASN1_STRING> data(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(value.data()),
                        static_cast<int>(value.size()));
  Ptr<X509_EXTENSION> ext(
      X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, data.get()));
  if (!ext) std::abort();
  return ext;
}

Ptr<X509_EXTENSION> bogus_aki() {
  Ptr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  akid->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>("bogus"), 5);
  return Ptr<X509_EXTENSION>(X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid.get()));
}

Ptr<X509_EXTENSION> own_ski() {
  Ptr<ASN1_STRING> id(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(id.get(), reinterpret_cast<const unsigned char*>("my-own-id"), 9);
  return Ptr<X509_EXTENSION>(X509V3_EXT_i2d(NID_subject_key_identifier, 0, id.get()));
}

int count_nid(const std::vector<int>& nids, int nid) {
  return static_cast<int>(std::count(nids.begin(), nids.end(), nid));
}

// DER of an ExtKeyUsageSyntax with these OIDs, as the certificate should carry it.
std::string eku_der(const std::vector<int>& nids) {
  std::string body;
  for (int nid : nids) body += to_der(i2d_ASN1_OBJECT, OBJ_nid2obj(nid));
  return std::string(1, '\x30') + static_cast<char>(body.size()) + body;
}

// Everything an attacker might ask for; none of it may reach the certificate.
std::vector<Ptr<X509_EXTENSION>> attacker_extensions() {
  std::vector<Ptr<X509_EXTENSION>> exts;
  exts.push_back(conf_ext(NID_basic_constraints, "critical,CA:TRUE,pathlen:5"));
  exts.push_back(
      conf_ext(NID_key_usage, "critical,digitalSignature,nonRepudiation,keyCertSign,cRLSign"));
  exts.push_back(conf_ext(NID_ext_key_usage,
                          "serverAuth,codeSigning,OCSPSigning,timeStamping,anyExtendedKeyUsage,"
                          "1.3.6.1.4.1.99999.7"));
  exts.push_back(own_ski());
  exts.push_back(bogus_aki());
  exts.push_back(conf_ext(NID_crl_distribution_points, "URI:http://evil.example/crl"));
  exts.push_back(conf_ext(NID_info_access, "OCSP;URI:http://evil.example/ocsp"));
  // certificatePolicies: anyPolicy (X509V3_EXT_conf_nid needs a config context for it).
  exts.push_back(raw_ext("2.5.29.32", false, "\x30\x08\x30\x06\x06\x04\x55\x1D\x20\x00"));
  exts.push_back(conf_ext(NID_name_constraints, "permitted;DNS:evil.example"));
  exts.push_back(conf_ext(NID_netscape_cert_type, "server,objsign,objCA"));
  exts.push_back(raw_ext("1.3.6.1.4.1.99999.1", true, std::string("\x05\x00", 2)));
  return exts;
}

std::vector<const X509_EXTENSION*> borrow(const std::vector<Ptr<X509_EXTENSION>>& exts) {
  std::vector<const X509_EXTENSION*> out;
  for (const auto& e : exts) out.push_back(e.get());
  return out;
}

// `openssl verify` of `leaf` against `root` with `intermediates` as untrusted certificates.
test::Output openssl_verify_chain(const TempDir& dir, const Certificate& root,
                                  const std::vector<const Certificate*>& intermediates,
                                  const Certificate& leaf, const std::string& extra = {}) {
  dir.write("root.pem", root.pem());
  std::string chain;
  for (const Certificate* c : intermediates) chain += c->pem();
  dir.write("chain.pem", chain);
  dir.write("leaf.pem", leaf.pem());
  return run("openssl verify -attime " + std::to_string(test::kNow + 1000) + " " + extra +
             " -CAfile " + dir.file("root.pem") +
             (chain.empty() ? std::string() : " -untrusted " + dir.file("chain.pem")) + " " +
             dir.file("leaf.pem"));
}

TEST(IssueCertificate, GrantsNothingTheRequestMayNotChoose) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  const auto exts = attacker_extensions();
  const Csr csr = request("CN=www.example.com", test::rsa_key_1024(), borrow(exts));
  ASSERT_EQ(csr.requested_extensions().size(), exts.size());
  EXPECT_TRUE(requests_ca_certificate(csr));
  auto ee = issue(csr, ca, ca_key, 2, kCdp);
  ASSERT_OK(ee);
  EXPECT_FALSE(ee->is_ca());
  const std::vector<int> nids = extension_nids(*ee);
  EXPECT_EQ(nids, (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
                                    NID_authority_key_identifier, NID_subject_key_identifier,
                                    NID_crl_distribution_points}));
  EXPECT_TRUE(extension_critical(*ee, NID_basic_constraints));
  EXPECT_EQ(extension_value(*ee, NID_basic_constraints), std::string("\x30\x00", 2));
  EXPECT_TRUE(extension_critical(*ee, NID_key_usage));
  // Of the usages asked for, only digitalSignature is an end entity's: it gets that alone.
  EXPECT_EQ(extension_value(*ee, NID_key_usage), std::string("\x03\x02\x07\x80", 4));
  EXPECT_FALSE(extension_critical(*ee, NID_ext_key_usage));
  EXPECT_EQ(extension_value(*ee, NID_ext_key_usage), eku_der({NID_server_auth}));
  EXPECT_EQ(ee->subject_key_id(), key_identifier(csr.public_key()));
  EXPECT_EQ(extension_value(*ee, NID_authority_key_identifier),
            std::string("\x30\x16\x80\x14", 4) + ca.subject_key_id());

  TempDir dir;
  const std::string text = openssl_text(dir, *ee);
  expect_in_order(
      text, {"X509v3 Basic Constraints: critical", "CA:FALSE", "X509v3 Key Usage: critical",
             "Digital Signature\n", "X509v3 Extended Key Usage:", "TLS Web Server Authentication\n",
             "X509v3 CRL Distribution Points:", std::string("URI:") + kCdp + "\n"});
  for (const char* absent :
       {"Certificate Sign", "CRL Sign", "Non Repudiation", "Code Signing", "OCSP Signing",
        "Time Stamping", "Any Extended Key Usage", "1.3.6.1.4.1.99999", "evil.example", "Policies",
        "Name Constraints", "Netscape", "Authority Information Access"}) {
    EXPECT_EQ(text.find(absent), std::string::npos) << absent << "\n" << text;
  }
  // OpenSSL agrees: a TLS server certificate, no time-stamping one, and no CA.
  auto out = openssl_verify_chain(dir, ca, {}, *ee, "-purpose sslserver");
  EXPECT_EQ(out.status, 0) << out.text;
  out = openssl_verify_chain(dir, ca, {}, *ee, "-purpose timestampsign");
  EXPECT_NE(out.status, 0) << out.text;
  auto grandchild = issue_certificate(IssueSpec{.csr = request("CN=forged", test::ec_key_256()),
                                                .ca_cert = *ee,
                                                .ca_key = test::rsa_key_1024(),
                                                .serial = SerialNumber{9},
                                                .not_before = from_unix(test::kNow + 200),
                                                .not_after = from_unix(test::kNow + 86400)});
  ASSERT_OK(grandchild);
  out = openssl_verify_chain(dir, ca, {&*ee}, *grandchild);
  EXPECT_NE(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("invalid CA certificate"), std::string::npos) << out.text;
}

TEST(IssueCertificate, AllowedEkusPassAndOperatorEkusAreAdded) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  // Requested in another order: the certificate lists them in the profile's order.
  auto eku = conf_ext(NID_ext_key_usage,
                      "emailProtection,ipsecUser,ipsecTunnel,ipsecEndSystem,ipsecIKE,clientAuth,"
                      "serverAuth");
  const Csr csr = request("CN=all", test::ec_key_256(), {eku.get()});
  auto ee = issue(csr, ca, ca_key);
  ASSERT_OK(ee);
  EXPECT_EQ(extension_value(*ee, NID_ext_key_usage),
            eku_der({NID_server_auth, NID_client_auth, NID_ipsec_IKE, NID_ipsecEndSystem,
                     NID_ipsecTunnel, NID_ipsecUser, NID_email_protect}));
  TempDir dir;
  EXPECT_NE(openssl_text(dir, *ee).find(
                "TLS Web Server Authentication, TLS Web Client Authentication, ipsec Internet "
                "Key Exchange, IPSec End System, IPSec Tunnel, IPSec User, E-mail Protection\n"),
            std::string::npos);

  // The operator's EKUs are added to a request without any, and merged with its own.
  const Csr plain = request("CN=plain", test::ec_key_256());
  auto spec = IssueSpec{.csr = plain,
                        .ca_cert = ca,
                        .ca_key = ca_key,
                        .serial = SerialNumber{5},
                        .not_before = from_unix(test::kNow),
                        .not_after = from_unix(test::kNow + 86400),
                        .extra_ekus = {Eku::kSshClient, Eku::kServerAuth}};
  auto with_extra = issue_certificate(spec);
  ASSERT_OK(with_extra);
  EXPECT_EQ(extension_value(*with_extra, NID_ext_key_usage),
            eku_der({NID_server_auth, NID_sshClient}));
  auto client = conf_ext(NID_ext_key_usage, "clientAuth,codeSigning");
  const Csr asks = request("CN=asks", test::ec_key_256(), {client.get()});
  auto merged = issue_certificate(IssueSpec{.csr = asks,
                                            .ca_cert = ca,
                                            .ca_key = ca_key,
                                            .serial = SerialNumber{6},
                                            .not_before = from_unix(test::kNow),
                                            .not_after = from_unix(test::kNow + 86400),
                                            .extra_ekus = {Eku::kServerAuth}});
  ASSERT_OK(merged);
  EXPECT_EQ(extension_value(*merged, NID_ext_key_usage),
            eku_der({NID_server_auth, NID_client_auth}));
  // A request may not obtain the SSH EKUs by asking.
  auto ssh = conf_ext(NID_ext_key_usage, "1.3.6.1.5.5.7.3.22");  // sshServer
  auto none = issue(request("CN=ssh", test::ec_key_256(), {ssh.get()}), ca, ca_key);
  ASSERT_OK(none);
  EXPECT_EQ(count_nid(extension_nids(*none), NID_ext_key_usage), 0);
}

Result<Certificate> issue_ca(const Csr& csr, const Certificate& ca, const Key& ca_key,
                             std::optional<int> path_len, std::uint64_t serial) {
  return issue_certificate(IssueSpec{.csr = csr,
                                     .ca_cert = ca,
                                     .ca_key = ca_key,
                                     .serial = SerialNumber{serial},
                                     .not_before = from_unix(test::kNow + 100),
                                     .not_after = from_unix(test::kNow + 100 + 365 * 86400),
                                     .ca = CaProfile{.path_len = path_len}});
}

TEST(IssueCertificate, CaProfileWithPathLength) {
  const Key& root_key = test::ec_key_256();
  const Certificate root = test::make_test_ca(root_key);
  // The request's own wishes (pathlen 5, EKUs, a CDP) do not matter.
  const auto exts = attacker_extensions();
  const Csr csr = request("CN=subca", test::rsa_key_1024(), borrow(exts));
  auto sub = issue_ca(csr, root, root_key, 0, 3);
  ASSERT_OK(sub);
  EXPECT_TRUE(sub->is_ca());
  EXPECT_EQ(extension_nids(*sub),
            (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_authority_key_identifier,
                              NID_subject_key_identifier}));
  EXPECT_TRUE(extension_critical(*sub, NID_basic_constraints));
  EXPECT_EQ(extension_value(*sub, NID_basic_constraints),
            std::string("\x30\x06\x01\x01\xFF\x02\x01\x00", 8));
  EXPECT_TRUE(extension_critical(*sub, NID_key_usage));
  EXPECT_EQ(extension_value(*sub, NID_key_usage), std::string("\x03\x02\x01\x86", 4));
  TempDir dir;
  expect_in_order(openssl_text(dir, *sub),
                  {"X509v3 Basic Constraints: critical", "CA:TRUE, pathlen:0",
                   "X509v3 Key Usage: critical", "Digital Signature, Certificate Sign, CRL Sign"});

  // OpenSSL enforces the path length: a leaf under the sub-CA verifies, a CA under it not.
  const Csr leaf_csr = request("CN=leaf", test::ec_key_256());
  auto leaf = issue(leaf_csr, *sub, test::rsa_key_1024(), 10);
  ASSERT_OK(leaf);
  auto out = openssl_verify_chain(dir, root, {&*sub}, *leaf);
  EXPECT_EQ(out.status, 0) << out.text;
  auto sub2 = issue_ca(request("CN=subsub", test::ec_key_256()), *sub, test::rsa_key_1024(),
                       std::nullopt, 11);
  ASSERT_OK(sub2);
  EXPECT_EQ(extension_value(*sub2, NID_basic_constraints), std::string("\x30\x03\x01\x01\xFF", 5));
  auto leaf2 = issue(leaf_csr, *sub2, test::ec_key_256(), 12);
  ASSERT_OK(leaf2);
  out = openssl_verify_chain(dir, root, {&*sub, &*sub2}, *leaf2);
  EXPECT_NE(out.status, 0) << out.text;
  EXPECT_NE(out.text.find("path length"), std::string::npos) << out.text;

  EXPECT_CODE(issue_ca(csr, root, root_key, -1, 4), Code::kInvalidArgument);
}

// allow_ca keeps its meaning for existing callers: a CA:TRUE request becomes a CA
// without a path length. Without it, or without CA:TRUE, the end-entity profile applies.
TEST(IssueCertificate, AllowCaGrantsRequestedCa) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  auto bc = conf_ext(NID_basic_constraints, "critical,CA:TRUE");
  auto ku = conf_ext(NID_key_usage, "critical,keyCertSign,cRLSign");
  const Csr csr = request("CN=subca", test::rsa_key_1024(), {bc.get(), ku.get()});
  auto ee = issue(csr, ca, ca_key);
  ASSERT_OK(ee);
  EXPECT_FALSE(ee->is_ca());
  EXPECT_EQ(extension_value(*ee, NID_key_usage), std::string("\x03\x02\x05\xA0", 4));
  auto sub = issue(csr, ca, ca_key, 3, {}, true);
  ASSERT_OK(sub);
  EXPECT_TRUE(sub->is_ca());
  EXPECT_EQ(extension_value(*sub, NID_basic_constraints), std::string("\x30\x03\x01\x01\xFF", 5));
  TempDir dir;
  auto out = openssl_verify(dir, ca, *sub);
  EXPECT_EQ(out.status, 0) << out.text;
  // CA:FALSE is not a CA request.
  auto ee_bc = conf_ext(NID_basic_constraints, "CA:FALSE");
  auto plain =
      issue(request("CN=ee", test::rsa_key_1024(), {ee_bc.get()}), ca, ca_key, 4, {}, true);
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->is_ca());
}

TEST(IssueCertificate, OneCdpFromTheConfiguredUrl) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  auto cdp = conf_ext(NID_crl_distribution_points, "URI:http://evil.example/crl");
  const Csr csr = request("CN=cdp", test::ec_key_256(), {cdp.get()});
  auto ee = issue(csr, ca, ca_key, 2, kCdp);
  ASSERT_OK(ee);
  EXPECT_EQ(count_nid(extension_nids(*ee), NID_crl_distribution_points), 1);
  TempDir dir;
  const std::string text = openssl_text(dir, *ee);
  EXPECT_NE(text.find(std::string("URI:") + kCdp + "\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("evil"), std::string::npos) << text;
  auto without = issue(csr, ca, ca_key, 3);
  ASSERT_OK(without);
  EXPECT_EQ(count_nid(extension_nids(*without), NID_crl_distribution_points), 0);
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
                                          .serial = SerialNumber{2},
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
        if (ee && ee->signed_by(ca) && ee->serial()->sequence == serial) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 40);
}

}  // namespace
}  // namespace scepter::pki
