#include "pki/csr.h"

#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>

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

// Listing stored requests skips parsing those that ask for no extension.
TEST(Csr, MayRequestExtensionsLooksAtTheAttributesOnly) {
  auto subject = parse_dn("CN=sub, O=Example");
  ASSERT_OK(subject);
  Ptr<X509_EXTENSION> san(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:sub.example.com"));
  ASSERT_TRUE(san);
  auto plain = make_csr(CsrSpec{.subject = subject->get(), .key = test::rsa_key_1024()});
  auto challenge = make_csr(
      CsrSpec{.subject = subject->get(), .key = test::rsa_key_1024(), .challenge_password = "pw"});
  auto both = make_csr(CsrSpec{.subject = subject->get(),
                               .key = test::ec_key_256(),
                               .challenge_password = "pw",
                               .extensions = {san.get()}});
  ASSERT_OK(plain);
  ASSERT_OK(challenge);
  ASSERT_OK(both);
  EXPECT_FALSE(may_request_extensions(plain->der()));
  EXPECT_FALSE(may_request_extensions(challenge->der()));
  EXPECT_TRUE(may_request_extensions(both->der()));
  // What cannot be walked is left to the parser.
  EXPECT_TRUE(may_request_extensions(""));
  EXPECT_TRUE(may_request_extensions(both->pem()));
  EXPECT_TRUE(may_request_extensions(both->der().substr(0, both->der().size() / 2)));
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

// Csr::parse reads requests without d2i_X509_REQ; OpenSSL must read them the same way,
// and the signature check must agree with X509_REQ_verify, for every signature scheme a
// client uses: PKCS#1 v1.5 with SHA-1/256/384/512 and MD5 (old IOS), ECDSA, and
// RSASSA-PSS (checked by OpenSSL itself).
TEST(Csr, ReadsRequestsAsOpensslDoes) {
  TempDir dir;
  struct Case {
    std::string newkey;
    std::string extra;
  };
  const Case cases[] = {
      {"rsa:2048", "-sha256 -addext subjectAltName=DNS:a.example,IP:10.0.0.1"},
      {"rsa:1024", "-sha1"},
      {"rsa:2048", "-md5"},
      {"rsa:2048", "-sha512 -addext keyUsage=critical,digitalSignature"},
      {"ec -pkeyopt ec_paramgen_curve:P-256", "-sha256"},
      {"ec -pkeyopt ec_paramgen_curve:P-384", "-sha384"},
      {"rsa:2048", "-sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.newkey + " " + c.extra);
    const std::string pem = openssl_csr(dir, c.newkey, c.extra);
    auto csr = Csr::parse(pem);
    ASSERT_OK(csr);
    X509_REQ* req = csr->x509_req();
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(X509_NAME_cmp(csr->subject(), X509_REQ_get_subject_name(req)), 0);
    EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), csr->public_key().evp()), 1);
    EXPECT_EQ(csr->public_key().public_key_der(), to_der(i2d_PUBKEY, X509_REQ_get0_pubkey(req)));
    Ptr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req));
    ASSERT_TRUE(exts);
    ASSERT_EQ(csr->requested_extensions().size(),
              static_cast<std::size_t>(sk_X509_EXTENSION_num(exts.get())));
    for (std::size_t i = 0; i < csr->requested_extensions().size(); ++i) {
      EXPECT_EQ(
          to_der(i2d_X509_EXTENSION, csr->requested_extensions()[i].get()),
          to_der(i2d_X509_EXTENSION, sk_X509_EXTENSION_value(exts.get(), static_cast<int>(i))));
    }
    EXPECT_EQ(csr->challenge_password(), std::optional<std::string>("otp-12345"));
    EXPECT_EQ(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    EXPECT_OK(csr->verify_signature());
    // Another key of the same type does not verify it.
    const Key& other = csr->public_key().is_rsa() ? test::rsa_key_1024() : test::ec_key_256();
    EXPECT_CODE(csr->verify_signature_with(other), Code::kInvalidArgument);
  }
}

// A signature algorithm for another key type than the request's is refused, as OpenSSL
// refuses it.
TEST(Csr, SignatureAlgorithmMustMatchTheKey) {
  auto subject = parse_dn("CN=mismatch");
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = test::rsa_key_1024()});
  ASSERT_OK(csr);
  // sha256WithRSAEncryption -> ecdsa-with-SHA256 in the outer AlgorithmIdentifier (the
  // OID bodies have different lengths, so the whole AlgorithmIdentifier is replaced).
  static constexpr std::string_view kRsaSha256(
      "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 15);
  static constexpr std::string_view kEcdsaSha256("\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02",
                                                 12);
  std::string der = csr->der();
  const std::size_t at = der.rfind(kRsaSha256);
  ASSERT_NE(at, std::string::npos);
  der.replace(at, kRsaSha256.size(), kEcdsaSha256);
  // The outer SEQUENCE shrank by three bytes: 30 82 HH LL.
  ASSERT_EQ(static_cast<unsigned char>(der[1]), 0x82);
  const std::size_t len =
      (static_cast<unsigned char>(der[2]) << 8 | static_cast<unsigned char>(der[3])) - 3;
  der[2] = static_cast<char>(len >> 8);
  der[3] = static_cast<char>(len & 0xff);
  auto changed = Csr::parse(der);
  ASSERT_OK(changed);
  EXPECT_NE(X509_REQ_verify(changed->x509_req(), changed->public_key().evp()), 1);
  EXPECT_CODE(changed->verify_signature(), Code::kInvalidArgument);
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

// DER by hand, for requests OpenSSL would not build: tag, definite length, body.
std::string tlv(unsigned char tag, const std::string& body) {
  std::string out(1, static_cast<char>(tag));
  std::string len;
  for (std::size_t n = body.size(); n > 0; n >>= 8)
    len.insert(len.begin(), static_cast<char>(n & 0xFF));
  if (body.size() < 0x80) {
    out.push_back(static_cast<char>(body.size()));
  } else {
    out.push_back(static_cast<char>(0x80 | len.size()));
    out += len;
  }
  return out + body;
}

// A CertificationRequest for CN=k with this SubjectPublicKeyInfo, no attributes and a
// junk signature: parse() does not verify signatures, so it reaches the key checks.
std::string request_with_spki(const std::string& spki) {
  auto name = parse_dn("CN=k");
  const std::string info = tlv(0x30, tlv(0x02, std::string(1, '\0')) +
                                         to_der(i2d_X509_NAME, name->get()) + spki + tlv(0xA0, ""));
  const std::string alg =
      tlv(0x30, tlv(0x06, "\x2A\x86\x48\x86\xF7\x0D\x01\x01\x0B") + tlv(0x05, ""));
  return tlv(0x30, info + alg + tlv(0x03, std::string(1, '\0') + std::string(64, 'x')));
}

// rsaEncryption SubjectPublicKeyInfo with a modulus of `bits` bits and exponent bytes `e`.
std::string rsa_spki(int bits, const std::string& e) {
  std::string n(static_cast<std::size_t>((bits + 7) / 8), '\xA5');
  n[0] = static_cast<char>(0xFF >> ((8 - bits % 8) % 8));  // exactly `bits` bits
  n = std::string(1, '\0') + n;                            // positive
  const std::string alg =
      tlv(0x30, tlv(0x06, "\x2A\x86\x48\x86\xF7\x0D\x01\x01\x01") + tlv(0x05, ""));
  const std::string key = tlv(0x30, tlv(0x02, n) + tlv(0x02, e));
  return tlv(0x30, alg + tlv(0x03, std::string(1, '\0') + key));
}

std::string message_of(const Result<Csr>& r) {
  return r ? std::string("accepted") : r.error().message();
}

TEST(CsrLimits, RsaModulusAndExponent) {
  const std::string f4("\x01\x00\x01", 3);
  EXPECT_OK(Csr::parse(request_with_spki(rsa_spki(4096, f4))));
  EXPECT_OK(Csr::parse(request_with_spki(rsa_spki(1024, f4))));  // the CA's minimum, not ours
  auto big = Csr::parse(request_with_spki(rsa_spki(5000, f4)));
  EXPECT_CODE(big, Code::kInvalidArgument);
  EXPECT_EQ(message_of(big),
            "the request's RSA key has 5000 bits; at most 4096 are accepted (the largest IOS key)");
  EXPECT_CODE(Csr::parse(request_with_spki(rsa_spki(4097, f4))), Code::kInvalidArgument);

  EXPECT_OK(Csr::parse(request_with_spki(rsa_spki(2048, "\x03"))));
  EXPECT_OK(Csr::parse(request_with_spki(rsa_spki(2048, std::string("\x00\xFF\xFF\xFF\xFF", 5)))));
  for (const std::string& e :
       {std::string("\x01\x00\x00\x00\x00\x01", 6) /* 2^40+1 */,
        std::string("\x01\x00\x00\x00\x01", 5) /* 2^32+1 */, std::string("\x01", 1),
        std::string("\x00", 1), std::string("\x01\x00\x00", 3) /* even */,
        std::string("\xFF", 1) /* negative */}) {
    auto r = Csr::parse(request_with_spki(rsa_spki(2048, e)));
    EXPECT_CODE(r, Code::kInvalidArgument) << hex_upper(e);
    EXPECT_NE(message_of(r).find("RSA public exponent is not accepted"), std::string::npos)
        << message_of(r);
  }
}

Ptr<EVP_PKEY> ec_key_on(const char* curve) {
  Ptr<EVP_PKEY> key(EVP_EC_gen(curve));
  if (!key) std::abort();
  return key;
}

std::string spki_of(EVP_PKEY* key) { return to_der(i2d_PUBKEY, key); }

TEST(CsrLimits, EcOnlyOnNamedNistCurves) {
  for (const char* curve : {"P-256", "P-384", "P-521"}) {
    Ptr<EVP_PKEY> key = ec_key_on(curve);
    auto own = Key::from_evp(std::move(key));
    ASSERT_OK(own);
    auto subject = parse_dn("CN=ec");
    auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = *own});
    ASSERT_OK(csr) << curve;
    EXPECT_OK(csr->verify_signature());
    EXPECT_EQ(key_description(csr->public_key()), std::string("EC ") + curve);
  }
  for (const char* curve : {"secp256k1", "prime192v1"}) {
    Ptr<EVP_PKEY> key = ec_key_on(curve);
    auto r = Csr::parse(request_with_spki(spki_of(key.get())));
    EXPECT_CODE(r, Code::kInvalidArgument);
    EXPECT_EQ(message_of(r), std::string("the request's EC key is on the curve ") + curve +
                                 "; use RSA (up to 4096 bits) or EC on P-256, P-384 or P-521");
  }
  // P-256 itself, with its parameters spelled out instead of named.
  Ptr<EVP_PKEY> key = ec_key_on("P-256");
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_ENCODING,
                                           OSSL_PKEY_EC_ENCODING_EXPLICIT),
            1);
  auto r = Csr::parse(request_with_spki(spki_of(key.get())));
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_NE(message_of(r).find("explicit curve parameters"), std::string::npos) << message_of(r);
  // Neither RSA nor EC.
  Ptr<EVP_PKEY> ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ed);
  r = Csr::parse(request_with_spki(spki_of(ed.get())));
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_NE(message_of(r).find("ED25519 key is not supported"), std::string::npos) << message_of(r);
}

TEST(CsrLimits, KeyDescription) {
  EXPECT_EQ(key_description(test::rsa_key_2048()), "RSA 2048");
  EXPECT_EQ(key_description(test::ec_key_256()), "EC P-256");
  auto k1 = Key::from_evp(ec_key_on("secp256k1"));
  ASSERT_OK(k1);
  EXPECT_EQ(key_description(*k1), "EC secp256k1");
}

// A request signed by the test EC key with these extensions in one extensionRequest (or,
// with `twice`, the same list again under Microsoft's OID), built without make_csr().
std::string signed_request(const std::vector<Ptr<X509_EXTENSION>>& exts, bool twice = false) {
  auto subject = parse_dn("CN=limits");
  Ptr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_subject_name(req.get(), subject->get());
  X509_REQ_set_pubkey(req.get(), test::ec_key_256().evp());
  Ptr<STACK_OF(X509_EXTENSION)> stack(sk_X509_EXTENSION_new_null());
  for (const auto& e : exts) sk_X509_EXTENSION_push(stack.get(), X509_EXTENSION_dup(e.get()));
  if (!exts.empty()) X509_REQ_add_extensions(req.get(), stack.get());
  if (twice) X509_REQ_add_extensions_nid(req.get(), stack.get(), NID_ms_ext_req);
  if (X509_REQ_sign(req.get(), test::ec_key_256().evp(), EVP_sha256()) <= 0) std::abort();
  return to_der(i2d_X509_REQ, req.get());
}

Ptr<X509_EXTENSION> unknown_ext(int arc, std::size_t payload = 0) {
  Ptr<ASN1_OBJECT> obj(OBJ_txt2obj(("1.3.6.1.4.1.99999." + std::to_string(arc)).c_str(), 1));
  Ptr<ASN1_STRING> data(ASN1_OCTET_STRING_new());
  const std::string value(payload, 'v');
  ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(value.data()),
                        static_cast<int>(value.size()));
  return Ptr<X509_EXTENSION>(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
}

TEST(CsrLimits, RequestSize) {
  std::vector<Ptr<X509_EXTENSION>> exts;
  exts.push_back(unknown_ext(1, 15900));
  const std::string near = signed_request(exts);
  ASSERT_GT(near.size(), 16000u);
  ASSERT_LE(near.size(), kMaxCsrDerBytes);
  EXPECT_OK(Csr::parse(near));
  EXPECT_OK(Csr::parse(pem_encode("CERTIFICATE REQUEST", near)));  // fits in the text limit
  EXPECT_OK(Csr::parse(base64_encode(near, 64)));

  const std::string over = std::string(1, '\x30') + std::string(kMaxCsrDerBytes, '\0');
  auto r = Csr::parse(over);
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_EQ(message_of(r), "the request is 16385 bytes; at most 16384 are accepted");
  exts[0] = unknown_ext(1, 16400);
  const std::string big = signed_request(exts);
  EXPECT_CODE(Csr::parse(big), Code::kInvalidArgument);
  // As text: refused by the text limit, or after decoding by the DER limit.
  r = Csr::parse(base64_encode(big, 64));
  EXPECT_NE(message_of(r).find("at most 16384"), std::string::npos) << message_of(r);
  r = Csr::parse(std::string(kMaxCsrTextBytes + 1, 'A'));
  EXPECT_EQ(message_of(r), "the request text is 24577 bytes; at most 24576 are accepted");
}

TEST(CsrLimits, ExtensionCountAndDuplicates) {
  std::vector<Ptr<X509_EXTENSION>> exts;
  for (int i = 0; i < 32; ++i) exts.push_back(unknown_ext(i));
  auto ok = Csr::parse(signed_request(exts));
  ASSERT_OK(ok);
  EXPECT_EQ(ok->requested_extensions().size(), 32u);
  exts.push_back(unknown_ext(32));
  auto r = Csr::parse(signed_request(exts));
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_EQ(message_of(r), "the request asks for 33 extensions; at most 32 are accepted");

  exts.pop_back();
  exts.back() = unknown_ext(3);
  r = Csr::parse(signed_request(exts));
  EXPECT_EQ(message_of(r), "the request asks for the extension 1.3.6.1.4.1.99999.3 twice");

  // Many copies of one extension: refused by the count, before any duplicate check.
  std::vector<Ptr<X509_EXTENSION>> copies;
  for (int i = 0; i < 1000; ++i) copies.push_back(unknown_ext(1));
  const std::string many = signed_request(copies);
  ASSERT_LE(many.size(), kMaxCsrDerBytes);
  r = Csr::parse(many);
  EXPECT_EQ(message_of(r), "the request asks for 1000 extensions; at most 32 are accepted");

  // A second extension request attribute would be ignored by OpenSSL: refused.
  std::vector<Ptr<X509_EXTENSION>> one;
  one.push_back(unknown_ext(1));
  r = Csr::parse(signed_request(one, true));
  EXPECT_EQ(message_of(r), "the request carries more than one extension request");
}

TEST(CsrLimits, SubjectAltNameEntries) {
  auto with_names = [](int n) {
    std::string value;
    for (int i = 0; i < n; ++i) value += (i ? ",DNS:h" : "DNS:h") + std::to_string(i) + ".example";
    std::vector<Ptr<X509_EXTENSION>> exts;
    exts.emplace_back(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str()));
    return signed_request(exts);
  };
  EXPECT_OK(Csr::parse(with_names(64)));
  auto r = Csr::parse(with_names(65));
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_EQ(message_of(r), "the request's subjectAltName has more than 64 entries");
  // A subjectAltName that does not decode.
  std::vector<Ptr<X509_EXTENSION>> exts;
  Ptr<ASN1_OBJECT> obj(OBJ_nid2obj(NID_subject_alt_name));
  Ptr<ASN1_STRING> data(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>("\x30\x03\x82\x05x"), 5);
  exts.emplace_back(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
  r = Csr::parse(signed_request(exts));
  EXPECT_EQ(message_of(r), "the request's subjectAltName is malformed");
}

}  // namespace
}  // namespace scepter::pki
