// CrlBuilder against third parties: every CRL goes through `openssl crl -verify` and
// `openssl crl -text`, and an RSA CRL must equal, byte for byte, the one OpenSSL's own
// X509_CRL code signs for the same content.

#include "pki/crl.h"

#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/crl_testing.h"

namespace scepter::pki {
namespace {

using crl_testing::KeyKind;
using crl_testing::make_ca;
using crl_testing::run;
using crl_testing::ScratchDir;
using crl_testing::test_now;
using crl_testing::TestCa;

struct Entry {
  SerialNumber serial;
  TimePoint at;
};

const TestCa& rsa_ca() {
  static const TestCa ca = make_ca(KeyKind::kRsa2048);
  return ca;
}

const TestCa& ec_ca() {
  static const TestCa ca = make_ca(KeyKind::kEcP256, "Scepter EC CA");
  return ca;
}

std::vector<Entry> sequential(std::uint64_t first, std::size_t n) {
  std::vector<Entry> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(
        {SerialNumber{first + i}, test_now() - Seconds(3600 * static_cast<std::int64_t>(n - i))});
  }
  return out;
}

Result<std::string> build_crl(const TestCa& ca, const std::vector<Entry>& entries, TimePoint next,
                              std::uint64_t number, const EVP_MD* md) {
  ASSIGN_OR_RETURN(CrlBuilder b, CrlBuilder::create(ca.cert.get(), ca.key.get()));
  for (const Entry& e : entries) RETURN_IF_ERROR(b.add(e.serial, e.at));
  return b.build(test_now(), next, number, md);
}

// The same CRL made the slow way, with OpenSSL's X509_CRL.
std::string openssl_crl(const TestCa& ca, const std::vector<Entry>& entries, TimePoint next,
                        std::uint64_t number, const EVP_MD* md) {
  Ptr<X509_CRL> crl(X509_CRL_new());
  CA_ASSERT(crl != nullptr, "X509_CRL_new");
  X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get()));
  Ptr<ASN1_STRING> t(ASN1_TIME_set(nullptr, to_unix(test_now())));
  X509_CRL_set1_lastUpdate(crl.get(), t.get());
  t.reset(ASN1_TIME_set(nullptr, to_unix(next)));
  X509_CRL_set1_nextUpdate(crl.get(), t.get());
  for (const Entry& e : entries) {
    Ptr<X509_REVOKED> rev(X509_REVOKED_new());
    const std::string serial_der = e.serial.der();
    const auto* p = reinterpret_cast<const unsigned char*>(serial_der.data());
    Ptr<ASN1_STRING> serial(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(serial_der.size())));
    CA_ASSERT(serial != nullptr, "d2i_ASN1_INTEGER");
    Ptr<ASN1_STRING> at(ASN1_TIME_set(nullptr, to_unix(e.at)));
    X509_REVOKED_set_serialNumber(rev.get(), serial.get());
    X509_REVOKED_set_revocationDate(rev.get(), at.get());
    CA_ASSERT(X509_CRL_add0_revoked(crl.get(), rev.get()) == 1, "add0_revoked");
    rev.release();
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  Ptr<X509_EXTENSION> aki(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  X509_CRL_add_ext(crl.get(), aki.get(), -1);
  Ptr<ASN1_STRING> n(ASN1_INTEGER_new());
  ASN1_INTEGER_set_uint64(n.get(), number);
  X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, n.get(), 0, 0);
  CA_ASSERT(X509_CRL_sign(crl.get(), ca.key.get(), md) > 0, "X509_CRL_sign");
  unsigned char* der = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string hex_colons(std::string_view bytes) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ':';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string ski_of(const TestCa& ca) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca.cert.get());
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                     static_cast<std::size_t>(ASN1_STRING_length(ski)));
}

// Writes the CA and the CRL, then runs `openssl crl -verify` and `-text`. Returns the text.
std::string check_with_openssl(const TestCa& ca, const std::string& crl) {
  ScratchDir dir;
  crl_testing::write_cert_pem(dir.file("ca.pem"), ca.cert.get());
  crl_testing::write_bytes(dir.file("ca.crl"), crl);
  const auto [rc, verify] = run("openssl crl -inform DER -in " + dir.file("ca.crl") + " -CAfile " +
                                dir.file("ca.pem") + " -noout -verify");
  EXPECT_EQ(rc, 0) << verify;
  EXPECT_NE(verify.find("verify OK"), std::string::npos) << verify;
  const auto [rc2, text] =
      run("openssl crl -inform DER -in " + dir.file("ca.crl") + " -noout -text");
  EXPECT_EQ(rc2, 0) << text;
  return text;
}

TEST(CrlBuilder, EmptyCrlVerifiesAndHasNoRevokedList) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = build_crl(ca, {}, test_now() + Seconds(6 * 3600), 1, EVP_sha256());
  ASSERT_OK(crl);
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("Version 2 (0x1)"), std::string::npos) << text;
  EXPECT_NE(text.find("No Revoked Certificates."), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Number"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos) << text;
  EXPECT_NE(text.find(hex_colons(ski_of(ca))), std::string::npos) << text;
  EXPECT_NE(text.find("Last Update: Jan  4 12:58:34 2025 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("Next Update: Jan  4 18:58:34 2025 GMT"), std::string::npos) << text;
  EXPECT_EQ(*crl, openssl_crl(ca, {}, test_now() + Seconds(6 * 3600), 1, EVP_sha256()));
}

TEST(CrlBuilder, OneEntry) {
  const TestCa& ca = rsa_ca();
  const std::vector<Entry> entries = {{SerialNumber{0x1234}, test_now() - Seconds(60)}};
  Result<std::string> crl = build_crl(ca, entries, test_now() + Seconds(3600), 7, EVP_sha256());
  ASSERT_OK(crl);
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("Serial Number: 1234"), std::string::npos) << text;
  EXPECT_NE(text.find("Revocation Date: Jan  4 12:57:34 2025 GMT"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Number: \n                7"), std::string::npos) << text;
  EXPECT_EQ(*crl, openssl_crl(ca, entries, test_now() + Seconds(3600), 7, EVP_sha256()));
}

TEST(CrlBuilder, ThousandEntries) {
  const TestCa& ca = rsa_ca();
  const std::vector<Entry> entries = sequential(2, 1000);
  Result<std::string> crl = build_crl(ca, entries, test_now() + Seconds(3600), 1000, EVP_sha256());
  ASSERT_OK(crl);
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("Serial Number: 02\n"), std::string::npos);
  EXPECT_NE(text.find("Serial Number: 01E9\n"), std::string::npos);  // 2 + 999
  std::size_t count = 0;
  for (std::size_t at = 0; (at = text.find("Serial Number:", at)) != std::string::npos; ++at) {
    ++count;
  }
  EXPECT_EQ(count, 1000u);
  EXPECT_EQ(*crl, openssl_crl(ca, entries, test_now() + Seconds(3600), 1000, EVP_sha256()));
}

TEST(CrlBuilder, Sha1AsIosSigns) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl =
      build_crl(ca, sequential(2, 3), test_now() + Seconds(60), 2, EVP_sha1());
  ASSERT_OK(crl);
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("sha1WithRSAEncryption"), std::string::npos) << text;
  Result<CrlInfo> info = parse_crl_info(*crl);
  ASSERT_OK(info);
  EXPECT_EQ(info->signature_algorithm, "sha1WithRSAEncryption");
}

TEST(CrlBuilder, NextUpdateAfter2049IsGeneralizedTime) {
  const TestCa& ca = rsa_ca();
  const TimePoint last_utc = from_unix(2524607999);   // 2049-12-31 23:59:59
  const TimePoint first_gen = from_unix(2524608000);  // 2050-01-01 00:00:00
  Result<std::string> crl =
      build_crl(ca, {{SerialNumber{5}, first_gen}}, first_gen, 3, EVP_sha256());
  ASSERT_OK(crl);
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("Next Update: Jan  1 00:00:00 2050 GMT"), std::string::npos) << text;
  EXPECT_NE(crl->find("\x18\x0f"
                      "20500101000000Z"),
            std::string::npos);
  EXPECT_EQ(crl->find("\x17\x0d"
                      "500101000000Z"),
            std::string::npos);

  Result<std::string> utc = build_crl(ca, {}, last_utc, 3, EVP_sha256());
  ASSERT_OK(utc);
  EXPECT_NE(utc->find("\x17\x0d"
                      "491231235959Z"),
            std::string::npos);
  Result<CrlInfo> info = parse_crl_info(*crl);
  ASSERT_OK(info);
  EXPECT_EQ(info->next_update, first_gen);
  ASSERT_EQ(info->entries.size(), 1u);
  EXPECT_EQ(info->entries[0].revoked_at, first_gen);
}

TEST(CrlBuilder, EcP256Issuer) {
  const TestCa& ca = ec_ca();
  const std::vector<Entry> entries = sequential(100, 50);
  Result<std::string> crl = build_crl(ca, entries, test_now() + Seconds(3600), 9, EVP_sha256());
  ASSERT_OK(crl);
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("ecdsa-with-SHA256"), std::string::npos) << text;
  EXPECT_NE(text.find(hex_colons(ski_of(ca))), std::string::npos) << text;
  EXPECT_OK(verify_crl_signature(*crl, ca.key.get()));
  // ECDSA signatures vary in length; build many to cross the DER length boundaries.
  for (int i = 0; i < 20; ++i) {
    Result<std::string> again = build_crl(ca, entries, test_now(), 9, EVP_sha384());
    ASSERT_OK(again);
    EXPECT_OK(verify_crl_signature(*again, ca.key.get()));
    EXPECT_OK(parse_crl_info(*again));
  }
}

// build() reserves room for the outer header of the longest signature. When a shorter
// ECDSA signature drops the length below 256, the header shrinks by one octet and the
// output moves. Tune the issuer name so the CRL sits on that boundary and check both sides.
TEST(CrlBuilder, EcdsaSignatureLengthAcrossHeaderBoundary) {
  bool short_form_seen = false;  // 0x30 0x81 xx: built with the header shrunk
  bool long_form_seen = false;   // 0x30 0x82 0x01 0x00..: at or above 256
  for (std::size_t cn = 1; cn < 80 && !(short_form_seen && long_form_seen); ++cn) {
    const TestCa ca = make_ca(KeyKind::kEcP256, std::string(cn, 'x'), true, &ec_ca());
    bool short_form = false;
    bool long_form = false;
    std::string sample;
    for (int i = 0; i < 24; ++i) {
      Result<std::string> crl = build_crl(ca, {}, test_now(), 1, EVP_sha256());
      ASSERT_OK(crl);
      ASSERT_OK(verify_crl_signature(*crl, ca.key.get()));
      ASSERT_OK(parse_crl_info(*crl));
      const auto second = static_cast<unsigned char>((*crl)[1]);
      short_form |= second == 0x81;
      long_form |= second == 0x82;
      if (second == 0x81) sample = *crl;
    }
    if (short_form && long_form) {
      short_form_seen = long_form_seen = true;
      check_with_openssl(ca, sample);
    }
  }
  EXPECT_TRUE(short_form_seen && long_form_seen);
}

TEST(CrlBuilder, RoundTripThroughParser) {
  const TestCa& ca = rsa_ca();
  const std::vector<Entry> entries = sequential(0xFFFFFFFFFFFFFFF0ull, 16);  // up to 2^64-1
  const TimePoint next = test_now() + Seconds(168 * 3600);
  Result<std::string> crl = build_crl(ca, entries, next, 0xFFFFFFFFFFull, EVP_sha512());
  ASSERT_OK(crl);
  check_with_openssl(ca, *crl);
  Result<CrlInfo> info = parse_crl_info(*crl);
  ASSERT_OK(info);
  EXPECT_EQ(info->version, 2);
  EXPECT_EQ(X509_NAME_cmp(info->issuer.get(), X509_get_subject_name(ca.cert.get())), 0);
  EXPECT_EQ(info->signature_algorithm, "sha512WithRSAEncryption");
  EXPECT_EQ(info->this_update, test_now());
  EXPECT_EQ(info->next_update, next);
  EXPECT_EQ(info->crl_number, 0xFFFFFFFFFFull);
  EXPECT_EQ(info->authority_key_id, ski_of(ca));
  EXPECT_EQ(info->size_bytes, crl->size());
  ASSERT_EQ(info->entries.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(info->entries[i].serial, entries[i].serial);
    EXPECT_EQ(info->entries[i].revoked_at, entries[i].at);
  }
}

TEST(CrlBuilder, AddRemoveContains) {
  const TestCa& ca = rsa_ca();
  Result<CrlBuilder> b = CrlBuilder::create(ca.cert.get(), ca.key.get());
  ASSERT_OK(b);
  for (const Entry& e : sequential(10, 5)) ASSERT_OK(b->add(e.serial, e.at));
  EXPECT_EQ(b->size(), 5u);
  EXPECT_TRUE(b->contains(12));
  EXPECT_FALSE(b->contains(15));
  EXPECT_CODE(b->add(SerialNumber{12}, test_now()), Code::kAlreadyExists);
  EXPECT_CODE(b->add(SerialNumber{12, 7}, test_now()), Code::kAlreadyExists);  // same sequence
  EXPECT_CODE(b->remove(SerialNumber{99}), Code::kNotFound);
  EXPECT_CODE(b->remove(SerialNumber{12, 7}), Code::kNotFound);  // listed without entropy
  ASSERT_OK(b->remove(SerialNumber{12}));
  ASSERT_OK(b->remove(SerialNumber{14}));  // the last one
  ASSERT_OK(b->remove(SerialNumber{10}));  // the first one
  EXPECT_FALSE(b->contains(12));
  EXPECT_EQ(b->size(), 2u);
  ASSERT_OK(b->add(SerialNumber{12}, test_now()));  // unrevoke, revoke again: goes to the end
  Result<std::string> crl = b->build(test_now(), test_now() + Seconds(60), 4, EVP_sha256());
  ASSERT_OK(crl);
  check_with_openssl(ca, *crl);
  Result<CrlInfo> info = parse_crl_info(*crl);
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), 3u);
  EXPECT_EQ(info->entries[0].serial, SerialNumber{11});
  EXPECT_EQ(info->entries[1].serial, SerialNumber{13});
  EXPECT_EQ(info->entries[2].serial, SerialNumber{12});
  // Removing everything gives an empty CRL again.
  for (std::uint64_t s : {11, 12, 13}) ASSERT_OK(b->remove(SerialNumber{s}));
  EXPECT_EQ(b->entry_bytes(), 0u);
  crl = b->build(test_now(), test_now() + Seconds(60), 5, EVP_sha256());
  ASSERT_OK(crl);
  EXPECT_EQ(*crl, openssl_crl(ca, {}, test_now() + Seconds(60), 5, EVP_sha256()));
}

// Serials issued while a weak hash was in force carry 64 random bits after the sequence
// number: the entries are the same bytes OpenSSL writes, and they survive load().
TEST(CrlBuilder, SerialsWithEntropy) {
  const TestCa& ca = rsa_ca();
  const std::vector<Entry> entries = {
      {SerialNumber{2, 0xFFFFFFFFFFFFFFFFull}, test_now() - Seconds(30)},  // high bit: pad
      {SerialNumber{3}, test_now() - Seconds(20)},
      {SerialNumber{0x7FFFFFFFFFFFFFFFull, 0x0000000000000001ull}, test_now() - Seconds(10)},
  };
  const TimePoint next = test_now() + Seconds(3600);
  Result<std::string> crl = build_crl(ca, entries, next, 9, EVP_sha256());
  ASSERT_OK(crl);
  EXPECT_EQ(*crl, openssl_crl(ca, entries, next, 9, EVP_sha256()));
  const std::string text = check_with_openssl(ca, *crl);
  EXPECT_NE(text.find("Serial Number: 02FFFFFFFFFFFFFFFF"), std::string::npos) << text;
  Result<CrlInfo> info = parse_crl_info(*crl);
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(info->entries[i].serial, entries[i].serial) << i;
  }
  Result<CrlBuilder> loaded = CrlBuilder::load(ca.cert.get(), ca.key.get(), *crl);
  ASSERT_OK(loaded);
  EXPECT_TRUE(loaded->contains(2));
  EXPECT_TRUE(loaded->contains(0x7FFFFFFFFFFFFFFFull));
  EXPECT_CODE(loaded->add(SerialNumber{2}, test_now()), Code::kAlreadyExists);
  ASSERT_OK(loaded->remove(entries[0].serial));
  EXPECT_FALSE(loaded->contains(2));
}

TEST(CrlBuilder, BuildDoesNotChangeTheBuilder) {
  const TestCa& ca = rsa_ca();
  Result<CrlBuilder> b = CrlBuilder::create(ca.cert.get(), ca.key.get());
  ASSERT_OK(b);
  ASSERT_OK(b->add(SerialNumber{2}, test_now()));
  Result<std::string> first = b->build(test_now(), test_now() + Seconds(60), 1, EVP_sha256());
  Result<std::string> second = b->build(test_now(), test_now() + Seconds(60), 1, EVP_sha256());
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(b->size(), 1u);
}

TEST(CrlBuilder, RejectsBadArguments) {
  const TestCa& ca = rsa_ca();
  EXPECT_CODE(CrlBuilder::create(nullptr, ca.key.get()), Code::kInvalidArgument);
  EXPECT_CODE(CrlBuilder::create(ca.cert.get(), nullptr), Code::kInvalidArgument);
  EXPECT_CODE(CrlBuilder::create(ca.cert.get(), ec_ca().key.get()), Code::kInvalidArgument);
  Result<CrlBuilder> b = CrlBuilder::create(ca.cert.get(), ca.key.get());
  ASSERT_OK(b);
  EXPECT_CODE(b->build(test_now(), test_now() - Seconds(1), 1, EVP_sha256()),
              Code::kInvalidArgument);
  EXPECT_CODE(b->add(SerialNumber{1}, from_unix(400000000000)),
              Code::kInvalidArgument);  // year 14645
  EXPECT_EQ(b->size(), 0u);
}

TEST(CrlBuilder, IssuerWithoutSkiGetsMethodOneKeyId) {
  const TestCa ca = make_ca(KeyKind::kEcP256, "No SKI CA", /*ski=*/false);
  Result<std::string> crl =
      build_crl(ca, {{SerialNumber{2}, test_now()}}, test_now(), 1, EVP_sha256());
  ASSERT_OK(crl);
  check_with_openssl(ca, *crl);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(X509_pubkey_digest(ca.cert.get(), EVP_sha1(), md, &len), 1);
  Result<CrlInfo> info = parse_crl_info(*crl);
  ASSERT_OK(info);
  EXPECT_EQ(info->authority_key_id, std::string(reinterpret_cast<char*>(md), len));
}

// A certificate with only a serial number: all crl_lists_certificate() looks at.
Ptr<X509> cert_with_serial(long serial) {
  Ptr<X509> x(X509_new());
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  return x;
}

TEST(CrlListsCertificate, FindsTheSerialInTheIssuersSignedCrl) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = build_crl(ca, {{SerialNumber{0x1234}, test_now() - Seconds(60)}},
                                      test_now() + Seconds(3600), 1, EVP_sha256());
  ASSERT_OK(crl);
  auto listed = crl_lists_certificate(*crl, ca.cert.get(), cert_with_serial(0x1234).get());
  ASSERT_OK(listed);
  EXPECT_TRUE(*listed);
  auto other = crl_lists_certificate(*crl, ca.cert.get(), cert_with_serial(0x1235).get());
  ASSERT_OK(other);
  EXPECT_FALSE(*other);
}

TEST(CrlListsCertificate, RefusesAnotherIssuerAForgeryAndGarbage) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = build_crl(ca, {{SerialNumber{7}, test_now() - Seconds(60)}},
                                      test_now() + Seconds(3600), 1, EVP_sha256());
  ASSERT_OK(crl);
  const auto cert = cert_with_serial(7);
  auto wrong_issuer = crl_lists_certificate(*crl, ec_ca().cert.get(), cert.get());
  ASSERT_FALSE(wrong_issuer.has_value());
  EXPECT_EQ(wrong_issuer.error().code(), Code::kInvalidArgument);
  std::string forged = *crl;
  forged[forged.size() - 1] ^= 1;  // the last byte of the signature
  EXPECT_FALSE(crl_lists_certificate(forged, ca.cert.get(), cert.get()).has_value());
  EXPECT_FALSE(crl_lists_certificate(*crl + "x", ca.cert.get(), cert.get()).has_value());
  EXPECT_FALSE(crl_lists_certificate("garbage", ca.cert.get(), cert.get()).has_value());
  EXPECT_FALSE(crl_lists_certificate("", ca.cert.get(), cert.get()).has_value());
}

}  // namespace
}  // namespace scepter::pki
