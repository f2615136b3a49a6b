// Reading CRLs back: CrlBuilder::load(), verify_crl_signature() and parse_crl_info(), on
// our own CRLs, on CRLs OpenSSL made (v1 as IOS writes them, entry extensions), and on
// garbage.

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/crl.h"
#include "pki/crl_testing.h"

namespace scepter::pki {
namespace {

using crl_testing::KeyKind;
using crl_testing::make_ca;
using crl_testing::test_now;
using crl_testing::TestCa;

const TestCa& rsa_ca() {
  static const TestCa ca = make_ca(KeyKind::kRsa2048);
  return ca;
}

std::string der_of(X509_CRL* crl) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_CRL(crl, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// A CRL made by OpenSSL: v1 without extensions (as IOS writes it) unless `v2`, entries
// with a reasonCode when `reason` >= 0.
std::string openssl_crl(const TestCa& ca, const std::vector<std::uint64_t>& serials, bool v2,
                        int reason = -1) {
  Ptr<X509_CRL> crl(X509_CRL_new());
  if (v2) X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get()));
  Ptr<ASN1_STRING> t(ASN1_TIME_set(nullptr, to_unix(test_now())));
  X509_CRL_set1_lastUpdate(crl.get(), t.get());
  X509_CRL_set1_nextUpdate(crl.get(), t.get());
  for (std::uint64_t s : serials) {
    Ptr<X509_REVOKED> rev(X509_REVOKED_new());
    Ptr<ASN1_STRING> serial(ASN1_INTEGER_new());
    ASN1_INTEGER_set_uint64(serial.get(), s);
    X509_REVOKED_set_serialNumber(rev.get(), serial.get());
    X509_REVOKED_set_revocationDate(rev.get(), t.get());
    if (reason >= 0) {
      Ptr<ASN1_STRING> code(ASN1_ENUMERATED_new());
      ASN1_ENUMERATED_set(code.get(), reason);
      X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, code.get(), 0, 0);
    }
    X509_CRL_add0_revoked(crl.get(), rev.release());
  }
  CA_ASSERT(X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) > 0, "X509_CRL_sign");
  return der_of(crl.get());
}

Result<std::string> our_crl(const TestCa& ca, std::size_t n) {
  ASSIGN_OR_RETURN(CrlBuilder b, CrlBuilder::create(ca.cert.get(), ca.key.get()));
  for (std::size_t i = 0; i < n; ++i)
    RETURN_IF_ERROR(b.add(SerialNumber{2 + i}, test_now() - Seconds(i)));
  return b.build(test_now(), test_now() + Seconds(3600), 42, EVP_sha256());
}

TEST(CrlLoad, RoundTripGivesTheSameBytes) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = our_crl(ca, 1000);
  ASSERT_OK(crl);
  Result<CrlBuilder> b = CrlBuilder::load(ca.cert.get(), ca.key.get(), *crl);
  ASSERT_OK(b);
  EXPECT_EQ(b->size(), 1000u);
  EXPECT_TRUE(b->contains(2));
  EXPECT_TRUE(b->contains(1001));
  EXPECT_FALSE(b->contains(1002));
  Result<std::string> again = b->build(test_now(), test_now() + Seconds(3600), 42, EVP_sha256());
  ASSERT_OK(again);
  EXPECT_EQ(*again, *crl);
  ASSERT_OK(b->remove(SerialNumber{500}));
  ASSERT_OK(b->add(SerialNumber{5000}, test_now()));
  EXPECT_EQ(b->size(), 1000u);
}

TEST(CrlLoad, EmptyCrl) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = our_crl(ca, 0);
  ASSERT_OK(crl);
  Result<CrlBuilder> b = CrlBuilder::load(ca.cert.get(), ca.key.get(), *crl);
  ASSERT_OK(b);
  EXPECT_EQ(b->size(), 0u);
}

TEST(CrlLoad, IosStyleV1Crl) {
  const TestCa& ca = rsa_ca();
  const std::string v1 = openssl_crl(ca, {2, 3, 4}, /*v2=*/false);
  Result<CrlInfo> info = parse_crl_info(v1);
  ASSERT_OK(info);
  EXPECT_EQ(info->version, 1);
  EXPECT_FALSE(info->crl_number.has_value());
  EXPECT_TRUE(info->authority_key_id.empty());
  EXPECT_EQ(info->entries.size(), 3u);
  Result<CrlBuilder> b = CrlBuilder::load(ca.cert.get(), ca.key.get(), v1);
  ASSERT_OK(b);
  EXPECT_EQ(b->size(), 3u);
  Result<std::string> v2 = b->build(test_now(), test_now() + Seconds(60), 1, EVP_sha256());
  ASSERT_OK(v2);
  info = parse_crl_info(*v2);
  ASSERT_OK(info);
  EXPECT_EQ(info->version, 2);
  EXPECT_EQ(info->crl_number, 1u);
}

TEST(CrlLoad, KeepsEntryExtensions) {
  const TestCa& ca = rsa_ca();
  const std::string with_reason = openssl_crl(ca, {7, 8}, /*v2=*/true, /*keyCompromise*/ 1);
  Result<CrlBuilder> b = CrlBuilder::load(ca.cert.get(), ca.key.get(), with_reason);
  ASSERT_OK(b);
  ASSERT_OK(b->add(SerialNumber{9}, test_now()));
  ASSERT_OK(b->remove(SerialNumber{7}));
  Result<std::string> crl = b->build(test_now(), test_now() + Seconds(60), 2, EVP_sha256());
  ASSERT_OK(crl);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(crl->data());
  Ptr<X509_CRL> parsed(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl->size())));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(X509_CRL_verify(parsed.get(), ca.key.get()), 1);
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(parsed.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 2);
  EXPECT_EQ(X509_REVOKED_get_ext_count(sk_X509_REVOKED_value(revoked, 0)), 1);  // 8, reason
  EXPECT_EQ(X509_REVOKED_get_ext_count(sk_X509_REVOKED_value(revoked, 1)), 0);  // 9, ours
}

TEST(CrlLoad, RejectsForeignOrDamagedCrls) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = our_crl(ca, 10);
  ASSERT_OK(crl);
  // Same key, another subject: the signature verifies but the issuer is not ours.
  const TestCa renamed = make_ca(KeyKind::kRsa2048, "Other CA", true, &ca);
  Result<std::string> foreign = our_crl(renamed, 3);
  ASSERT_OK(foreign);
  EXPECT_OK(verify_crl_signature(*foreign, ca.key.get()));
  EXPECT_CODE(CrlBuilder::load(ca.cert.get(), ca.key.get(), *foreign), Code::kInvalidArgument);
  // Another key altogether.
  const TestCa other = make_ca(KeyKind::kEcP256, "Scepter Test CA");
  Result<std::string> other_crl = our_crl(other, 3);
  ASSERT_OK(other_crl);
  EXPECT_CODE(verify_crl_signature(*other_crl, ca.key.get()), Code::kInvalidArgument);
  EXPECT_CODE(CrlBuilder::load(ca.cert.get(), ca.key.get(), *other_crl), Code::kInvalidArgument);

  std::string tampered = *crl;
  tampered[tampered.size() / 2] ^= 0x01;
  EXPECT_CODE(CrlBuilder::load(ca.cert.get(), ca.key.get(), tampered), Code::kInvalidArgument);
  EXPECT_CODE(CrlBuilder::load(ca.cert.get(), ca.key.get(), "garbage"), Code::kInvalidArgument);
  EXPECT_CODE(CrlBuilder::load(ca.cert.get(), ca.key.get(), ""), Code::kInvalidArgument);

  const std::string dup = openssl_crl(ca, {5, 6, 5}, /*v2=*/true);
  EXPECT_OK(verify_crl_signature(dup, ca.key.get()));
  EXPECT_CODE(CrlBuilder::load(ca.cert.get(), ca.key.get(), dup), Code::kInvalidArgument);
}

TEST(CrlVerify, AlgorithmMismatches) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = our_crl(ca, 2);
  ASSERT_OK(crl);
  EXPECT_OK(verify_crl_signature(*crl, ca.key.get()));
  EXPECT_CODE(verify_crl_signature(*crl, nullptr), Code::kInvalidArgument);
  const TestCa ec = make_ca(KeyKind::kEcP256);
  EXPECT_CODE(verify_crl_signature(*crl, ec.key.get()), Code::kInvalidArgument);
  // Outer algorithm sha1WithRSA, inner sha256WithRSA: the OIDs differ in their last octet.
  std::string swapped = *crl;
  const std::string sha256_rsa = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b";
  const std::size_t outer = swapped.rfind(sha256_rsa);
  ASSERT_NE(outer, std::string::npos);
  swapped[outer + sha256_rsa.size() - 1] = 0x05;
  EXPECT_CODE(verify_crl_signature(swapped, ca.key.get()), Code::kInvalidArgument);
}

TEST(CrlInfoParser, Garbage) {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("\x30"), std::string_view("\x30\x00", 2),
        std::string_view("hello"), std::string_view("\x30\x80\x00\x00", 4)}) {
    EXPECT_CODE(parse_crl_info(bad), Code::kInvalidArgument);
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2 == 0 && !junk.empty()) junk[0] = 0x30;
    EXPECT_FALSE(parse_crl_info(junk).has_value());
  }
}

TEST(CrlInfoParser, EveryTruncationFails) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = our_crl(ca, 3);
  ASSERT_OK(crl);
  ASSERT_OK(parse_crl_info(*crl));
  for (std::size_t len = 0; len < crl->size(); ++len) {
    EXPECT_CODE(parse_crl_info(std::string_view(*crl).substr(0, len)), Code::kInvalidArgument)
        << len;
  }
  EXPECT_CODE(parse_crl_info(*crl + '\0'), Code::kInvalidArgument);
}

TEST(CrlInfoParser, BitFlipsNeverCrash) {
  const TestCa& ca = rsa_ca();
  Result<std::string> crl = our_crl(ca, 3);
  ASSERT_OK(crl);
  const std::size_t tbs_end = crl->size() - 256 - 20;  // before the signature
  for (std::size_t i = 0; i < tbs_end; ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string flipped = *crl;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      Result<CrlInfo> info = parse_crl_info(flipped);
      if (!info.has_value()) {
        EXPECT_EQ(info.error().code(), Code::kInvalidArgument);
      }
      EXPECT_FALSE(CrlBuilder::load(ca.cert.get(), ca.key.get(), flipped).has_value()) << i;
    }
  }
}

}  // namespace
}  // namespace scepter::pki
