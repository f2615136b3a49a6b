// The reasonCode entry extension (RFC 5280 5.3.1) of CrlBuilder: read back by OpenSSL's
// X509_CRL code and `openssl crl -text`, and byte for byte the entry OpenSSL encodes.

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/crl.h"
#include "pki/crl_der.h"
#include "pki/crl_testing.h"

namespace scepter::pki {
namespace {

using crl_testing::KeyKind;
using crl_testing::make_ca;
using crl_testing::run;
using crl_testing::ScratchDir;
using crl_testing::test_now;
using crl_testing::TestCa;

constexpr int kKeyCompromise = 1;
constexpr int kSuperseded = 4;

const TestCa& ca() {
  static const TestCa ca = make_ca(KeyKind::kEcP256, "Scepter Reason CA");
  return ca;
}

CrlBuilder builder() {
  auto b = CrlBuilder::create(ca().cert.get(), ca().key.get());
  CA_ASSERT(b.has_value(), "CrlBuilder::create");
  return std::move(*b);
}

std::string build(const CrlBuilder& b) {
  auto der = b.build(test_now(), test_now() + Seconds(3600), 7, nullptr);
  CA_ASSERT(der.has_value(), "CrlBuilder::build");
  return *der;
}

Ptr<X509_CRL> decode(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  CA_ASSERT(crl != nullptr, "d2i_X509_CRL");
  return crl;
}

// What OpenSSL reads as the entry's reasonCode (nullopt when absent), and whether the
// extension is marked critical.
struct SeenReason {
  std::optional<long> code;
  bool critical = false;
};

SeenReason reason_of(X509_REVOKED* rev) {
  SeenReason seen;
  int crit = 0;
  Ptr<ASN1_STRING> code(
      static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, nullptr)));
  if (code) {
    seen.code = ASN1_ENUMERATED_get(code.get());
    seen.critical = crit == 1;
  } else {
    EXPECT_EQ(crit, -1) << "reasonCode present but not decodable";
  }
  return seen;
}

TEST(CrlReason, OpenSslReadsTheReasonCode) {
  CrlBuilder b = builder();
  ASSERT_OK(b.add(SerialNumber{2}, test_now(), kKeyCompromise));
  ASSERT_OK(b.add(SerialNumber{3}, test_now()));
  ASSERT_OK(b.add(SerialNumber{4}, test_now(), kCrlReasonUnspecified));
  ASSERT_OK(b.add(SerialNumber{5, 0xFEEDFACECAFEBEEF}, test_now(), kCrlReasonAaCompromise));
  ASSERT_OK(b.add(SerialNumber{6}, test_now(), kSuperseded));
  ASSERT_OK(b.add(SerialNumber{7}, test_now(), kKeyCompromise));  // the cached encoding
  const std::string der = build(b);
  ASSERT_OK(verify_crl_signature(der, ca().key.get()));

  Ptr<X509_CRL> crl = decode(der);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 6);
  const std::vector<std::optional<long>> want = {kKeyCompromise, std::nullopt,
                                                 std::nullopt,   kCrlReasonAaCompromise,
                                                 kSuperseded,    kKeyCompromise};
  for (int i = 0; i < 6; ++i) {
    X509_REVOKED* rev = sk_X509_REVOKED_value(revoked, i);
    const SeenReason seen = reason_of(rev);
    EXPECT_EQ(seen.code, want[static_cast<std::size_t>(i)]) << "entry " << i;
    EXPECT_FALSE(seen.critical) << "entry " << i;
    // Unspecified SHOULD be absent (RFC 5280 5.3.1): no extensions at all then.
    EXPECT_EQ(X509_REVOKED_get_ext_count(rev), want[static_cast<std::size_t>(i)] ? 1 : 0);
  }
}

// Each entry is what OpenSSL's X509_REVOKED with X509_REVOKED_add1_ext_i2d encodes.
TEST(CrlReason, EntryEqualsOpenSslsEncoding) {
  const SerialNumber serial{0x1234};
  for (int code : {1, 2, 3, 4, 5, 6, 9, 10}) {
    CrlBuilder b = builder();
    ASSERT_OK(b.add(serial, test_now(), code));
    const std::string der = build(b);
    auto parts = der::split_crl(der);
    ASSERT_OK(parts);
    std::string_view rest = parts->entries;
    der::RawEntry entry;
    ASSERT_OK(der::read_entry(rest, entry));
    EXPECT_TRUE(entry.has_extensions);

    Ptr<X509_REVOKED> rev(X509_REVOKED_new());
    Ptr<ASN1_STRING> number(ASN1_INTEGER_new());
    ASN1_INTEGER_set_uint64(number.get(), serial.sequence);
    Ptr<ASN1_STRING> at(ASN1_TIME_set(nullptr, to_unix(test_now())));
    Ptr<ASN1_STRING> value(ASN1_ENUMERATED_new());
    ASN1_ENUMERATED_set(value.get(), code);
    ASSERT_EQ(X509_REVOKED_set_serialNumber(rev.get(), number.get()), 1);
    ASSERT_EQ(X509_REVOKED_set_revocationDate(rev.get(), at.get()), 1);
    ASSERT_EQ(X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, value.get(), 0, 0), 1);
    unsigned char* out = nullptr;
    const int len = i2d_X509_REVOKED(rev.get(), &out);
    ASSERT_GT(len, 0);
    const std::string want(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
    EXPECT_EQ(std::string(entry.whole), want) << "code " << code;
  }
}

TEST(CrlReason, OpenSslCommandLineShowsTheReason) {
  CrlBuilder b = builder();
  ASSERT_OK(b.add(SerialNumber{2}, test_now(), kKeyCompromise));
  ASSERT_OK(b.add(SerialNumber{3}, test_now(), 6));  // certificateHold
  ScratchDir dir;
  crl_testing::write_cert_pem(dir.file("ca.pem"), ca().cert.get());
  crl_testing::write_bytes(dir.file("ca.crl"), build(b));
  const auto [rc, text] = run("openssl crl -inform DER -in " + dir.file("ca.crl") + " -CAfile " +
                              dir.file("ca.pem") + " -noout -verify -text");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("verify OK"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 CRL Reason Code:"), std::string::npos) << text;
  EXPECT_NE(text.find("Key Compromise"), std::string::npos) << text;
  EXPECT_NE(text.find("Certificate Hold"), std::string::npos) << text;
}

TEST(CrlReason, CodesNoCompleteCrlCarriesAreRefused) {
  CrlBuilder b = builder();
  for (int bad : {-1, 7, kCrlReasonRemoveFromCrl, 11}) {
    EXPECT_CODE(b.add(SerialNumber{2}, test_now(), bad), Code::kInvalidArgument) << bad;
    EXPECT_FALSE(b.contains(2)) << bad;
  }
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.entry_bytes(), 0u);
  ASSERT_OK(b.add(SerialNumber{2}, test_now(), kKeyCompromise));  // the serial is still free
}

TEST(CrlReason, NamesAreRfc5280s) {
  EXPECT_STREQ(crl_reason_name(0), "unspecified");
  EXPECT_STREQ(crl_reason_name(1), "keyCompromise");
  EXPECT_STREQ(crl_reason_name(2), "cACompromise");
  EXPECT_STREQ(crl_reason_name(6), "certificateHold");
  EXPECT_EQ(crl_reason_name(7), nullptr);
  EXPECT_STREQ(crl_reason_name(8), "removeFromCRL");
  EXPECT_STREQ(crl_reason_name(10), "aACompromise");
  EXPECT_EQ(crl_reason_name(-1), nullptr);
  EXPECT_EQ(crl_reason_name(11), nullptr);
  EXPECT_TRUE(is_crl_entry_reason(0));
  EXPECT_FALSE(is_crl_entry_reason(kCrlReasonRemoveFromCrl));
  EXPECT_FALSE(is_crl_entry_reason(7));
}

// parse_crl_info() reports the reasons; a builder loaded from the CRL keeps them, and
// removes an entry that has them.
TEST(CrlReason, InfoLoadAndRemoveKeepTheReasons) {
  CrlBuilder b = builder();
  ASSERT_OK(b.add(SerialNumber{2}, test_now(), kKeyCompromise));
  ASSERT_OK(b.add(SerialNumber{3}, test_now()));
  ASSERT_OK(b.add(SerialNumber{4}, test_now(), kSuperseded));
  const std::string der = build(b);
  auto info = parse_crl_info(der);
  ASSERT_OK(info);
  ASSERT_EQ(info->entries.size(), 3u);
  EXPECT_EQ(info->entries[0].reason, kKeyCompromise);
  EXPECT_FALSE(info->entries[1].reason.has_value());
  EXPECT_EQ(info->entries[2].reason, kSuperseded);

  auto loaded = CrlBuilder::load(ca().cert.get(), ca().key.get(), der);
  ASSERT_OK(loaded);
  ASSERT_OK(loaded->remove(SerialNumber{2}));
  ASSERT_OK(loaded->add(SerialNumber{5}, test_now(), kKeyCompromise));
  auto again = parse_crl_info(build(*loaded));
  ASSERT_OK(again);
  ASSERT_EQ(again->entries.size(), 3u);
  EXPECT_EQ(again->entries[0].serial.sequence, 3u);
  EXPECT_FALSE(again->entries[0].reason.has_value());
  EXPECT_EQ(again->entries[1].reason, kSuperseded);
  EXPECT_EQ(again->entries[2].serial.sequence, 5u);
  EXPECT_EQ(again->entries[2].reason, kKeyCompromise);
}

}  // namespace
}  // namespace scepter::pki
