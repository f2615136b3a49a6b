// The two ways a PKIMessage is read (request.h, "How the signer certificate is read"):
// taken apart by signed_data.h with the signature checked by request.cpp, or decoded by
// OpenSSL alone. The reader must find what OpenSSL finds, and every message must get the
// same answer on both paths.

#include "scep/signed_data.h"

#include <cstring>

#include <gtest/gtest.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "common/testing.h"
#include "pki/io.h"
#include "pki/ptr.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/request.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::csr_der;
using testing::shared_pki;

std::string request(DigestAlg digest = DigestAlg::kSha256, bool ber = false) {
  const testing::Pki& p = shared_pki();
  PkiRequestParams rq;
  rq.payload = csr_der(p.csr.get());
  rq.signer_cert = p.client_signer.get();
  rq.signer_key = p.client_key.get();
  rq.recipient_cert = p.ca_cert.get();
  rq.transaction_id = "5C3D0F1E2D3C4B5A69788796A5B4C3D2";
  rq.sender_nonce = "0123456789abcdef";
  rq.digest = digest;
  rq.ber = ber;
  return *encode_pki_request(rq);
}

std::string name_der(const X509_NAME* name) {
  const unsigned char* p = nullptr;
  std::size_t len = 0;
  EXPECT_EQ(X509_NAME_get0_der(name, &p, &len), 1);
  return {reinterpret_cast<const char*>(p), len};
}

// A PKIMessage built by OpenSSL's CMS code with `flags` (CMS_USE_KEYID, ...) and extra
// certificates, signed by the client over an envelope for the CA.
std::string openssl_signed(X509* signer, EVP_PKEY* key, unsigned flags,
                           const std::vector<X509*>& extra_certs) {
  const testing::Pki& p = shared_pki();
  const std::string content =
      *detail::envelope(csr_der(p.csr.get()), p.ca_cert.get(), CipherAlg::kAes128Cbc);
  pki::Ptr<CMS_ContentInfo> cms(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
  CMS_SignerInfo* si = CMS_add1_signer(cms.get(), signer, key, EVP_sha256(), CMS_BINARY | flags);
  EXPECT_NE(si, nullptr);
  const AttributeTypes& t = attribute_types();
  const std::pair<const AttributeType*, std::string> attrs[] = {
      {&t.message_type, "19"},
      {&t.transaction_id, "0F1E2D3C4B5A69788796A5B4C3D2E1F0"},
  };
  for (const auto& [type, value] : attrs) {
    CMS_signed_add1_attr_by_OBJ(si, type->obj, V_ASN1_PRINTABLESTRING, value.data(),
                                static_cast<int>(value.size()));
  }
  CMS_signed_add1_attr_by_OBJ(si, t.sender_nonce.obj, V_ASN1_OCTET_STRING, "0123456789abcdef", 16);
  for (X509* c : extra_certs) EXPECT_EQ(CMS_add1_cert(cms.get(), c), 1);
  auto in = detail::read_bio(content);
  EXPECT_EQ(CMS_final(cms.get(), in->get(), nullptr, CMS_BINARY), 1);
  return *detail::cms_der(cms.get());
}

struct Outcome {
  DecodeResult result;
  bool split = false;  // read without OpenSSL decoding it whole
};

Outcome decode(std::string_view msg, bool openssl_only) {
  const testing::Pki& p = shared_pki();
  const std::uint64_t before = openssl_decodes();
  Outcome out{tl::unexpected(DecodeError{}), false};
  auto pending = PendingPkiMessage::parse(msg, openssl_only);
  if (!pending) {
    out.result = tl::unexpected(std::move(pending.error()));
  } else {
    out.result = std::move(*pending).open(p.ca_key.get(), p.ca_cert.get());
  }
  out.split = openssl_decodes() == before;
  EXPECT_EQ(ERR_peek_error(), 0u) << "error queue left dirty";
  return out;
}

// Both paths give `msg` the same answer; returns whether the default one took it apart.
bool same_answer(std::string_view msg) {
  Outcome fast = decode(msg, false);
  Outcome full = decode(msg, true);
  EXPECT_FALSE(full.split);
  EXPECT_EQ(fast.result.has_value(), full.result.has_value());
  if (fast.result.has_value() && full.result.has_value()) {
    const DecodedRequest& a = *fast.result;
    const DecodedRequest& b = *full.result;
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.transaction_id, b.transaction_id);
    EXPECT_EQ(a.sender_nonce, b.sender_nonce);
    EXPECT_EQ(a.digest, b.digest);
    EXPECT_EQ(a.cipher, b.cipher);
    EXPECT_EQ(a.signing_time, b.signing_time);
    EXPECT_EQ(a.payload, b.payload);
    EXPECT_EQ(a.signer.der, b.signer.der);
    EXPECT_EQ(a.signer.issuer_and_serial, b.signer.issuer_and_serial);
    EXPECT_EQ(EVP_PKEY_eq(a.signer.key.get(), b.signer.key.get()), 1);
  } else if (!fast.result.has_value() && !full.result.has_value()) {
    const DecodeError& a = fast.result.error();
    const DecodeError& b = full.result.error();
    EXPECT_EQ(a.status.to_string(), b.status.to_string());
    EXPECT_EQ(a.fail_info, b.fail_info);
    EXPECT_EQ(a.replyable, b.replyable);
    EXPECT_EQ(a.transaction_id, b.transaction_id);
    EXPECT_EQ(a.sender_nonce, b.sender_nonce);
    EXPECT_EQ(a.type, b.type);
  }
  return fast.split;
}

// Replaces the last occurrence of `from` in `msg` by `to` (same length).
std::string replace_last(std::string msg, std::string_view from, std::string_view to) {
  EXPECT_EQ(from.size(), to.size());
  const auto at = msg.rfind(from);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) msg.replace(at, from.size(), to);
  return msg;
}

TEST(SignedData, SplitFindsWhatOpenSslFinds) {
  const testing::Pki& p = shared_pki();
  const std::string msg = request();
  auto split = detail::split_signed_data(msg);
  ASSERT_TRUE(split.has_value());
  ASSERT_EQ(split->certs.size(), 1u);
  EXPECT_EQ(split->certs[0], pki::to_der(i2d_X509, p.client_signer.get()));
  EXPECT_EQ(split->sid_issuer, name_der(X509_get_issuer_name(p.client_signer.get())));
  EXPECT_EQ(split->sid_serial,
            pki::to_der(i2d_ASN1_INTEGER, X509_get0_serialNumber(p.client_signer.get())));
  EXPECT_TRUE(split->digest_listed);
  EXPECT_FALSE(split->has_unsigned_attrs);
  ASSERT_FALSE(split->signed_attrs.empty());
  EXPECT_EQ(static_cast<unsigned char>(split->signed_attrs[0]), 0x31);

  // The message without its certificates is the same message to OpenSSL, minus them.
  auto whole = detail::parse_cms(msg);
  auto without = detail::parse_cms(split->without_certs);
  ASSERT_OK(whole);
  ASSERT_OK(without);
  EXPECT_EQ(split->without_certs.size(), msg.size() - split->certs[0].size() - 4);
  detail::X509Stack none(CMS_get1_certs(without->get()));
  EXPECT_TRUE(!none || sk_X509_num(none.get()) == 0);
  EXPECT_EQ(detail::view(*CMS_get0_content(whole->get())),
            detail::view(*CMS_get0_content(without->get())));
  CMS_SignerInfo* a = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(whole->get()), 0);
  CMS_SignerInfo* b = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(without->get()), 0);
  EXPECT_EQ(detail::view(CMS_SignerInfo_get0_signature(a)),
            detail::view(CMS_SignerInfo_get0_signature(b)));
  EXPECT_EQ(CMS_signed_get_attr_count(a), CMS_signed_get_attr_count(b));
}

TEST(SignedData, SplitRefusesWhatItDoesNotTake) {
  const std::string msg = request();
  EXPECT_FALSE(detail::split_signed_data(request(DigestAlg::kSha256, /*ber=*/true)));
  EXPECT_FALSE(detail::split_signed_data(msg + "x"));
  EXPECT_FALSE(detail::split_signed_data(msg.substr(0, msg.size() - 1)));
  EXPECT_FALSE(detail::split_signed_data(""));
  EXPECT_FALSE(detail::split_signed_data(std::string("\x30\x00", 2)));
  EXPECT_FALSE(detail::split_signed_data(csr_der(shared_pki().csr.get())));
}

TEST(SignedData, CertificateFieldsAreOpenSslsFields) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509> with_ski = testing::cert_with_ski(p.other_key.get(), "with SKI");
  for (X509* cert : {p.ca_cert.get(), p.client_signer.get(), p.other_cert.get(), with_ski.get()}) {
    const std::string der = pki::to_der(i2d_X509, cert);
    auto fields = detail::certificate_fields(der);
    ASSERT_TRUE(fields.has_value());
    EXPECT_EQ(fields->issuer, name_der(X509_get_issuer_name(cert)));
    EXPECT_EQ(fields->serial, pki::to_der(i2d_ASN1_INTEGER, X509_get0_serialNumber(cert)));
    EXPECT_EQ(fields->spki, pki::to_der(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(cert)));
    EXPECT_EQ(detail::issuer_and_serial_der(fields->issuer, fields->serial),
              PeerCert::from_x509(cert)->issuer_and_serial);
    EXPECT_FALSE(detail::certificate_fields(der + "x"));
    EXPECT_FALSE(detail::certificate_fields(der.substr(0, der.size() - 1)));
  }
}

TEST(SignedData, RequestsAreReadWithoutDecodingTheSignerCertificate) {
  for (DigestAlg d : {DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha224, DigestAlg::kSha256,
                      DigestAlg::kSha384, DigestAlg::kSha512}) {
    EXPECT_TRUE(same_answer(request(d))) << digest_name(d);
  }
  // A renewal: signed by a certificate with extensions.
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509> issued = testing::issue(p.csr.get(), p.ca_cert.get(), p.ca_key.get(), 77);
  EXPECT_TRUE(same_answer(openssl_signed(issued.get(), p.client_key.get(), 0, {})));
  // The signatureAlgorithm is not signed: sha256WithRSAEncryption in place of
  // rsaEncryption, which some clients write and CMS_verify accepts.
  constexpr std::string_view kRsa("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9);
  constexpr std::string_view kSha256Rsa("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", 9);
  EXPECT_TRUE(same_answer(replace_last(request(), kRsa, kSha256Rsa)));
}

TEST(SignedData, EverythingElseIsLeftToOpenSsl) {
  const testing::Pki& p = shared_pki();
  EXPECT_FALSE(same_answer(request(DigestAlg::kSha256, /*ber=*/true)));
  // Two certificates.
  EXPECT_FALSE(same_answer(
      openssl_signed(p.client_signer.get(), p.client_key.get(), 0, {p.other_cert.get()})));
  // The signer named by subjectKeyIdentifier.
  pki::Ptr<X509> with_ski = testing::cert_with_ski(p.client_key.get(), "with SKI");
  EXPECT_FALSE(same_answer(openssl_signed(with_ski.get(), p.client_key.get(), CMS_USE_KEYID, {})));
  // No certificate at all: badMessageCheck on both paths.
  EXPECT_FALSE(
      same_answer(openssl_signed(p.client_signer.get(), p.client_key.get(), CMS_NOCERTS, {})));
  // RSASSA-PSS named, without its parameters: both refuse.
  constexpr std::string_view kRsa("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9);
  constexpr std::string_view kPss("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a", 9);
  EXPECT_FALSE(same_answer(replace_last(request(), kRsa, kPss)));
}

TEST(SignedData, BadSignaturesGetOpenSslsAnswer) {
  const std::string msg = request();
  auto split = detail::split_signed_data(msg);
  ASSERT_TRUE(split.has_value());
  // The last byte of the message is the last byte of the signature.
  std::string bad_sig = msg;
  bad_sig.back() = static_cast<char>(bad_sig.back() ^ 0x01);
  EXPECT_FALSE(same_answer(bad_sig));
  auto r = decode(bad_sig, false);
  ASSERT_FALSE(r.result.has_value());
  EXPECT_EQ(r.result.error().fail_info, FailInfo::kBadMessageCheck);
  EXPECT_TRUE(r.result.error().replyable);

  // A changed byte in the content: messageDigest no longer matches.
  auto whole = detail::parse_cms(msg);
  ASSERT_OK(whole);
  const std::string content(detail::view(*CMS_get0_content(whole->get())));
  std::string changed = content;
  changed[changed.size() - 1] = static_cast<char>(changed.back() ^ 0x01);
  EXPECT_FALSE(same_answer(replace_last(msg, content, changed)));

  // A signed attribute changed (the transactionID's last character).
  const std::string tid = "5C3D0F1E2D3C4B5A69788796A5B4C3D2";
  EXPECT_FALSE(same_answer(replace_last(msg, tid, "5C3D0F1E2D3C4B5A69788796A5B4C3D3")));
}

}  // namespace
}  // namespace scepter::scep
