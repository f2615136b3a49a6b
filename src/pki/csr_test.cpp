#include "pki/csr.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/name.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using test::run;
using test::TempDir;

// An OpenSSL config for `openssl req`: without -subj it takes this subject and adds a
// challengePassword attribute (with -subj, OpenSSL drops the attributes).
constexpr char kReqConfig[] = R"([req]
distinguished_name = dn
attributes = attrs
prompt = no
[dn]
C = US
O = Example
CN = r1.example.com
[attrs]
challengePassword = otp-12345
)";

// Makes a request with the openssl CLI in `dir` (r.pem, r.der) and returns its PEM.
std::string openssl_csr(const TempDir& dir, const std::string& newkey, const std::string& extra) {
  dir.write("req.cnf", kReqConfig);
  const std::string d = dir.file("");
  auto out = run("cd " + d + " && openssl req -new -config req.cnf -newkey " + newkey +
                 " -nodes -keyout k.pem -out r.pem " + extra +
                 " && openssl req -in r.pem -outform DER -out r.der");
  EXPECT_EQ(out.status, 0) << out.text;
  return dir.read("r.pem");
}

std::string hex_of_digest(const std::string& cmd) {
  auto out = run(cmd);
  EXPECT_EQ(out.status, 0) << out.text;
  // "MD5(stdin)= 0123abcd..." or "(stdin)= ..."
  std::string hex;
  for (char c : out.text.substr(out.text.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  return hex;
}

TEST(Csr, ParsesAnOpensslRsaRequest) {
  TempDir dir;
  const std::string pem =
      openssl_csr(dir, "rsa:2048",
                  "-addext 'keyUsage=digitalSignature,"
                  "keyEncipherment' -addext 'subjectAltName=DNS:r1.example.com' -addext "
                  "'extendedKeyUsage=clientAuth'");
  auto csr = Csr::parse(pem);
  ASSERT_OK(csr);
  EXPECT_OK(csr->verify_signature());
  EXPECT_EQ(csr->der(), dir.read("r.der"));
  EXPECT_EQ(format_dn_ios(csr->subject()), "cn=r1.example.com,o=Example,c=US");
  EXPECT_TRUE(csr->public_key().is_rsa());
  EXPECT_FALSE(csr->public_key().has_private());
  EXPECT_EQ(csr->key_bits(), 2048);
  ASSERT_TRUE(csr->challenge_password().has_value());
  EXPECT_EQ(*csr->challenge_password(), "otp-12345");

  const auto& exts = csr->requested_extensions();
  ASSERT_EQ(exts.size(), 3u);
  EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(exts[0].get())), NID_key_usage);
  EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(exts[1].get())), NID_subject_alt_name);
  EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(exts[2].get())), NID_ext_key_usage);

  // IOS fingerprints: MD5 of the request DER, and MD5 of the SubjectPublicKeyInfo.
  EXPECT_EQ(csr->md5_fingerprint(), hex_of_digest("openssl dgst -md5 < " + dir.file("r.der")));
  EXPECT_EQ(csr->spki_md5_hex(),
            hex_of_digest("openssl req -in " + dir.file("r.pem") +
                          " -noout -pubkey | openssl pkey -pubin -outform DER | "
                          "openssl dgst -md5"));
  EXPECT_EQ(csr->spki_md5_hex(), md5_hex(csr->public_key().public_key_der()));
  EXPECT_EQ(csr->md5_fingerprint().size(), 32u);

  // The same request as DER, bare base64 (as pasted, with odd line breaks) and old PEM.
  const std::string der = dir.read("r.der");
  for (const std::string& form :
       {der, base64_encode(der, 64), base64_encode(der, 0), "\r\n" + base64_encode(der, 17),
        pem_encode("NEW CERTIFICATE REQUEST", der)}) {
    auto again = Csr::parse(form);
    ASSERT_OK(again);
    EXPECT_EQ(again->der(), der);
  }
  EXPECT_EQ(csr->pem(), pem);
}

TEST(Csr, ParsesAnOpensslEcRequest) {
  TempDir dir;
  const std::string pem =
      openssl_csr(dir, "ec -pkeyopt ec_paramgen_curve:P-384",
                  "-sha384 -subj '/CN=R27/serialNumber=67111345+unstructuredName=R27.otus.ru'"
                  " -multivalue-rdn");
  auto csr = Csr::parse(pem);
  ASSERT_OK(csr);
  EXPECT_OK(csr->verify_signature());
  EXPECT_TRUE(csr->public_key().is_ec());
  EXPECT_EQ(csr->key_bits(), 384);
  EXPECT_TRUE(csr->requested_extensions().empty());
  EXPECT_EQ(format_dn_ios(csr->subject()), "serialNumber=67111345+hostname=R27.otus.ru,cn=R27");
  EXPECT_EQ(csr->md5_fingerprint(), hex_of_digest("openssl dgst -md5 < " + dir.file("r.der")));
}

TEST(Csr, MakeCsrRoundTripsAndOpensslVerifies) {
  auto subject = parse_dn("CN=sub, O=Example");
  ASSERT_OK(subject);
  Ptr<X509_EXTENSION> ku(X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage,
                                             "critical,digitalSignature,keyEncipherment"));
  ASSERT_TRUE(ku);
  for (const Key* key : {&test::rsa_key_1024(), &test::ec_key_256()}) {
    auto csr = make_csr(CsrSpec{.subject = subject->get(),
                                .key = *key,
                                .hash = Hash::kSha256,
                                .challenge_password = "pässword",
                                .extensions = {ku.get()}});
    ASSERT_OK(csr);
    EXPECT_OK(csr->verify_signature());
    EXPECT_EQ(*csr->challenge_password(), "pässword");
    ASSERT_EQ(csr->requested_extensions().size(), 1u);
    EXPECT_TRUE(csr->public_key().equals_public(*key));
    TempDir dir;
    dir.write("r.pem", csr->pem());
    auto out = run("openssl req -in " + dir.file("r.pem") + " -verify -noout -text");
    EXPECT_EQ(out.status, 0) << out.text;
    EXPECT_NE(out.text.find("verify OK"), std::string::npos) << out.text;
    EXPECT_NE(out.text.find("Key Encipherment"), std::string::npos) << out.text;
  }
  auto plain = make_csr(CsrSpec{.subject = subject->get(), .key = test::ec_key_256()});
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->challenge_password().has_value());
  EXPECT_CODE(
      make_csr(CsrSpec{.subject = subject->get(), .key = test::ec_key_256(), .hash = Hash::kMd5}),
      Code::kInvalidArgument);
  auto pub = Key::from_public_der(test::ec_key_256().public_key_der());
  EXPECT_CODE(make_csr(CsrSpec{.subject = subject->get(), .key = *pub}), Code::kInvalidArgument);
}

TEST(Csr, BrokenSignatureIsRejectedByVerify) {
  auto subject = parse_dn("CN=victim");
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = test::rsa_key_1024()});
  ASSERT_OK(csr);
  std::string der = csr->der();
  der[der.size() - 5] ^= 0x01;  // inside the signature BIT STRING
  auto tampered = Csr::parse(der);
  ASSERT_OK(tampered);
  EXPECT_CODE(tampered->verify_signature(), Code::kInvalidArgument);
  // A changed subject under the old signature fails the same way.
  der = csr->der();
  const std::size_t at = der.find("victim");
  ASSERT_NE(at, std::string::npos);
  der[at] = 'V';
  tampered = Csr::parse(der);
  ASSERT_OK(tampered);
  EXPECT_CODE(tampered->verify_signature(), Code::kInvalidArgument);
}

TEST(Csr, RejectsBadInput) {
  auto subject = parse_dn("CN=x");
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = test::ec_key_256()});
  ASSERT_OK(csr);
  const std::string& der = csr->der();
  for (std::size_t cut :
       {std::size_t{1}, std::size_t{2}, std::size_t{10}, der.size() / 2, der.size() - 1}) {
    EXPECT_CODE(Csr::parse(der.substr(0, cut)), Code::kInvalidArgument) << cut;
  }
  EXPECT_CODE(Csr::parse(der + "x"), Code::kInvalidArgument);
  EXPECT_CODE(Csr::parse(""), Code::kInvalidArgument);
  EXPECT_CODE(Csr::parse("\n\n"), Code::kInvalidArgument);
  EXPECT_CODE(Csr::parse("MIIB!!notbase64"), Code::kInvalidArgument);
  EXPECT_CODE(Csr::parse(base64_encode("not a request")), Code::kInvalidArgument);
  EXPECT_CODE(Csr::parse(pem_encode("CERTIFICATE", der)), Code::kInvalidArgument);
  EXPECT_CODE(Csr::parse("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                         "-----END CERTIFICATE REQUEST-----\n"),
              Code::kInvalidArgument);
  // A certificate is not a request.
  const Certificate ca = test::make_test_ca(test::ec_key_256());
  EXPECT_CODE(Csr::parse(ca.der()), Code::kInvalidArgument);
  auto msg = Csr::parse(pem_encode("CERTIFICATE", der));
  EXPECT_NE(msg.error().message().find("CERTIFICATE REQUEST"), std::string::npos);
}

TEST(Csr, RejectsDuplicateRequestedExtensions) {
  auto subject = parse_dn("CN=dup");
  Ptr<X509_EXTENSION> ku(X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "digitalSignature"));
  auto csr = make_csr(CsrSpec{
      .subject = subject->get(), .key = test::ec_key_256(), .extensions = {ku.get(), ku.get()}});
  EXPECT_CODE(csr, Code::kInvalidArgument);
}

// A request whose challengePassword is an INTEGER: well-formed DER, but not a string.
TEST(Csr, RejectsChallengePasswordThatIsNotAString) {
  auto subject = parse_dn("CN=odd");
  const Key& key = test::ec_key_256();
  Ptr<X509_REQ> req(X509_REQ_new());
  ASSERT_TRUE(req);
  ASSERT_EQ(X509_REQ_set_subject_name(req.get(), subject->get()), 1);
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), key.evp()), 1);
  const unsigned char five = 5;
  ASSERT_EQ(
      X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, V_ASN1_INTEGER, &five, 1),
      1);
  ASSERT_GT(X509_REQ_sign(req.get(), key.evp(), EVP_sha256()), 0);
  const std::string der = to_der(i2d_X509_REQ, req.get());
  ASSERT_FALSE(der.empty());
  auto csr = Csr::parse(der);
  ASSERT_FALSE(csr);
  EXPECT_EQ(csr.error().code(), Code::kInvalidArgument);
  EXPECT_NE(csr.error().message().find("challengePassword"), std::string::npos);
}

TEST(Csr, CopiesShareState) {
  auto subject = parse_dn("CN=copy");
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = test::ec_key_256()});
  ASSERT_OK(csr);
  const Csr copy = *csr;
  EXPECT_EQ(copy.x509_req(), csr->x509_req());
  EXPECT_EQ(copy.der(), csr->der());
}

}  // namespace
}  // namespace scepter::pki
