// The certificate builder writes DER itself (issuer.cpp, der_signer.h). These tests hold it
// to OpenSSL's own encoder: a certificate OpenSSL decodes and encodes again, fields and
// signature made anew by X509_sign, must come out byte for byte the same (RSA PKCS#1 v1.5
// signatures are deterministic; for ECDSA the signed part is compared), and the keys the
// builder embeds are the bytes i2d_PUBKEY writes.

#include <gtest/gtest.h>

#include <openssl/x509.h>

#include "common/testing.h"
#include "pki/io.h"
#include "pki/issuer.h"
#include "pki/issuer_test_support.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using namespace issuer_testing;

// `cert` as OpenSSL writes it: decoded, its TBSCertificate marked for re-encoding and
// signed again by X509_sign with `key` and `hash`.
std::string resigned_by_openssl(const Certificate& cert, const Key& key, Hash hash) {
  const auto* p = reinterpret_cast<const unsigned char*>(cert.der().data());
  Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(cert.der().size())));
  if (!x || X509_sign(x.get(), key.evp(), evp_md(hash)) <= 0) return {};
  return to_der(i2d_X509, x.get());
}

// The TBSCertificate OpenSSL encodes from `cert`'s decoded fields.
std::string tbs_by_openssl(const Certificate& cert) {
  const auto* p = reinterpret_cast<const unsigned char*>(cert.der().data());
  Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(cert.der().size())));
  if (!x) return {};
  return to_der(i2d_re_X509_tbs, x.get());
}

// The TBSCertificate TLV at the front of a certificate's content.
std::string tbs_of(const Certificate& cert) {
  const auto* p = reinterpret_cast<const unsigned char*>(cert.der().data());
  long len = 0;
  int tag = 0;
  int cls = 0;
  ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(cert.der().size()));
  const unsigned char* tbs = p;
  ASN1_get_object(&p, &len, &tag, &cls, len);
  return std::string(reinterpret_cast<const char*>(tbs), static_cast<std::size_t>(p + len - tbs));
}

TEST(CertificateDer, RsaCaAndIssuedCertificatesAreWhatOpensslWrites) {
  const Key& ca_key = test::rsa_key_2048();
  for (Hash hash : {Hash::kSha1, Hash::kSha256, Hash::kSha384, Hash::kSha512}) {
    SCOPED_TRACE(hash_name(hash));
    auto subject = parse_dn("CN=Root CA,O=Example,C=US");
    ASSERT_OK(subject);
    auto ca = make_ca_certificate(CaCertSpec{.subject = subject->get(),
                                             .key = ca_key,
                                             .serial = 1,
                                             .not_before = from_unix(test::kNow),
                                             .not_after = from_unix(test::kNow + 86400 * 3650),
                                             .hash = hash});
    ASSERT_OK(ca);
    EXPECT_EQ(ca->der(), resigned_by_openssl(*ca, ca_key, hash));

    const Ptr<X509_EXTENSION> san = conf_ext(NID_subject_alt_name, "DNS:r1.example.com");
    const Csr csr = request("CN=r1,O=Example", test::rsa_key_1024(), {san.get()});
    // A serial with the high bit set (a leading zero octet) and a 2050 expiry
    // (GeneralizedTime) besides the usual ones.
    for (std::uint64_t serial : {std::uint64_t{2}, std::uint64_t{0x80}, std::uint64_t{1} << 63}) {
      auto ee = issue_certificate(IssueSpec{.csr = csr,
                                            .ca_cert = *ca,
                                            .ca_key = ca_key,
                                            .serial = SerialNumber{serial},
                                            .not_before = from_unix(test::kNow),
                                            .not_after = from_unix(2556144000),  // 2051-01-01
                                            .hash = hash,
                                            .cdp_url = kCdp});
      ASSERT_OK(ee);
      EXPECT_EQ(ee->der(), resigned_by_openssl(*ee, ca_key, hash));
      EXPECT_TRUE(ee->signed_by(*ca));
    }
  }
}

TEST(CertificateDer, EcSignaturesAndKeysAreWhatOpensslWrites) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  EXPECT_EQ(tbs_of(ca), tbs_by_openssl(ca));
  for (int bits : {256, 384}) {
    auto key = Key::generate_ec(bits);
    ASSERT_OK(key);
    const Csr csr = request("CN=ec" + std::to_string(bits), *key);
    auto ee = issue(csr, ca, ca_key);
    ASSERT_OK(ee);
    EXPECT_EQ(tbs_of(*ee), tbs_by_openssl(*ee));
    EXPECT_TRUE(ee->signed_by(ca));
    EXPECT_EQ(ee->public_key()->public_key_der(), to_der(i2d_PUBKEY, key->evp()));
  }
}

// What Key keeps as public_key_der() for a key read from a request or certificate is
// what i2d_PUBKEY writes, whether it takes the bytes it was read from (the usual
// encodings) or encodes the key again (any other).
TEST(CertificateDer, KeysReadFromRequestsKeepOpensslsEncoding) {
  const Key& rsa = test::rsa_key_2048();
  const std::string canonical = to_der(i2d_PUBKEY, rsa.evp());
  auto decoded = Key::from_public_der(canonical);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->public_key_der(), canonical);

  // rsaEncryption without the NULL parameters: OpenSSL reads it, and writes NULL.
  std::string absent = canonical;
  const std::string with_null("\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00", 15);
  const std::string without_null("\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 13);
  const auto at = absent.find(with_null);
  ASSERT_NE(at, std::string::npos);
  absent.replace(at, with_null.size(), without_null);
  ASSERT_EQ(absent.substr(0, 4), std::string("\x30\x82\x01\x22", 4));  // 290 bytes
  absent[3] = '\x20';                                                  // now 288
  auto odd = Key::from_public_der(absent);
  ASSERT_OK(odd);
  EXPECT_EQ(odd->public_key_der(), canonical);

  // An EC key in compressed form is kept in OpenSSL's own form as well.
  const Key& ec = test::ec_key_256();
  Ptr<EVP_PKEY> copy(EVP_PKEY_dup(ec.evp()));
  ASSERT_TRUE(copy);
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(copy.get(), "point-format", "compressed"), 1);
  const std::string compressed = to_der(i2d_PUBKEY, copy.get());
  auto from_compressed = Key::from_public_der(compressed);
  ASSERT_OK(from_compressed);
  Ptr<EVP_PKEY> plain(EVP_PKEY_dup(from_compressed->evp()));
  EXPECT_EQ(from_compressed->public_key_der(), to_der(i2d_PUBKEY, plain.get()));
}

}  // namespace
}  // namespace scepter::pki
