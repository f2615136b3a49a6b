#include "scep/next_ca.h"

#include <utility>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "pki/name.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/upstream_client.h"

namespace scepter::scep {
namespace {

Status bad(std::string_view why) {
  return invalid_argument(fmt::format("GetNextCACert answer {}", why));
}

// The signer of `si` as the answer names it: the certificate it carries for that signer
// when there is one, else the issuer and serial (or key identifier) of the signerInfo.
std::string describe_signer(CMS_ContentInfo* cms, CMS_SignerInfo* si) {
  detail::X509Stack certs(CMS_get1_certs(cms));
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    X509* x = sk_X509_value(certs.get(), i);
    if (CMS_SignerInfo_cert_cmp(si, x) != 0) continue;
    if (auto cert = pki::Certificate::from_x509(pki::up_ref(x)); cert.has_value()) {
      ERR_clear_error();
      return describe_certificate(*cert);
    }
  }
  ERR_clear_error();  // CMS_get1_certs complains when there are none
  ASN1_OCTET_STRING* key_id = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (CMS_SignerInfo_get0_signer_id(si, &key_id, &issuer, &serial) != 1) {
    ERR_clear_error();
    return "an unidentified signer";
  }
  if (issuer != nullptr && serial != nullptr) {
    pki::Ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(serial, nullptr));
    pki::OpenSslBuf<char> hex(bn ? BN_bn2hex(bn.get()) : nullptr);
    ERR_clear_error();
    return fmt::format("the certificate of issuer {}, serial {}", pki::format_dn_ios(issuer),
                       hex ? hex.get() : "(unreadable)");
  }
  std::string hex;
  for (char c : detail::view(key_id)) {
    hex += fmt::format("{:02X}", static_cast<unsigned char>(c));
  }
  return fmt::format("the key with identifier {}", hex.empty() ? "(empty)" : hex);
}

}  // namespace

Result<std::string> encode_next_ca_cert(const std::vector<pki::Certificate>& next_certs,
                                        const pki::Certificate& signer_cert,
                                        const pki::Key& signer_key, std::time_t signing_time) {
  if (next_certs.empty()) return fail(invalid_argument("GetNextCACert: no rollover certificate"));
  if (next_certs.size() > kMaxNextCaCertificates) {
    return fail(invalid_argument(fmt::format("GetNextCACert: {} certificates (at most {})",
                                             next_certs.size(), kMaxNextCaCertificates)));
  }
  if (!signer_key.has_private()) {
    return fail(invalid_argument("GetNextCACert: the signing key has no private part"));
  }
  auto signer_public = signer_cert.public_key();
  if (!signer_public.has_value() || !signer_public->equals_public(signer_key)) {
    return fail(invalid_argument(fmt::format("GetNextCACert: the signing key is not the key of {}",
                                             describe_certificate(signer_cert))));
  }
  std::vector<X509*> certs;
  certs.reserve(next_certs.size());
  for (const pki::Certificate& c : next_certs) certs.push_back(c.x509());
  ASSIGN_OR_RETURN(std::string inner, detail::degenerate(certs, {}));

  detail::SignSpec spec;
  spec.cert = signer_cert.x509();
  spec.key = signer_key.evp();
  spec.digest = DigestAlg::kSha256;
  spec.include_cert = true;
  spec.signing_time = signing_time;
  return detail::sign_data(inner, spec, {});
}

Result<std::vector<pki::Certificate>> decode_next_ca_cert(std::string_view der,
                                                          const NextCaTrust& trusted) {
  if (der.size() > kMaxNextCaAnswerBytes) {
    return fail(bad(
        fmt::format("of {} bytes is too large (at most {})", der.size(), kMaxNextCaAnswerBytes)));
  }
  if (trusted.ra_signer && !trusted.ra_signer->signed_by(trusted.ca)) {
    return fail(invalid_argument(
        fmt::format("GetNextCACert: the RA signing certificate {} is not issued by the CA {}",
                    describe_certificate(*trusted.ra_signer), describe_certificate(trusted.ca))));
  }

  auto parsed = detail::parse_cms(der);
  if (!parsed.has_value()) {
    return fail(bad(fmt::format("does not parse: {}", parsed.error().message())));
  }
  CMS_ContentInfo* cms = parsed->get();
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
    return fail(bad(fmt::format("is not a SignedData (content type {})",
                                detail::oid_text(CMS_get0_type(cms)))));
  }
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms);
  const int signer_count = signers == nullptr ? 0 : sk_CMS_SignerInfo_num(signers);
  ASN1_OCTET_STRING** content = CMS_get0_content(cms);
  const bool has_content = content != nullptr && *content != nullptr;
  if (signer_count <= 0) {
    return fail(
        bad("is a certs-only SignedData without a signature (the shape of jscep#72): it must "
            "be a SignedData by the current CA around one"));
  }
  if (signer_count != 1) {
    return fail(bad(fmt::format("has {} signers (exactly one expected)", signer_count)));
  }
  if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
    return fail(bad(fmt::format("encapsulates content of type {}, not id-data",
                                detail::oid_text(CMS_get0_eContentType(cms)))));
  }
  if (!has_content) {
    return fail(
        bad("has no encapsulated content: a signed certs-only SignedData (as jscep#72 sent) "
            "instead of one around it"));
  }

  // The signer must be one of the certificates the client already holds, and is checked
  // with that copy: certificates inside the answer are not consulted.
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, 0);
  const pki::Certificate* signer = nullptr;
  if (CMS_SignerInfo_cert_cmp(si, trusted.ca.x509()) == 0) {
    signer = &trusted.ca;
  } else if (trusted.ra_signer && CMS_SignerInfo_cert_cmp(si, trusted.ra_signer->x509()) == 0) {
    signer = &*trusted.ra_signer;
  }
  if (signer == nullptr) {
    const std::string who = describe_signer(cms, si);
    return fail(bad(
        fmt::format("is signed by {}, which is neither the current CA {}{}{}", who,
                    describe_certificate(trusted.ca), trusted.ra_signer ? " nor its RA " : "",
                    trusted.ra_signer ? describe_certificate(*trusted.ra_signer) : std::string())));
  }
  detail::X509Stack signer_stack(sk_X509_new_null());
  pki::Ptr<X509> ref = pki::up_ref(signer->x509());
  if (!signer_stack || sk_X509_push(signer_stack.get(), ref.get()) <= 0) {
    return fail(pki::last_error("sk_X509_push"));
  }
  ref.release();  // the stack owns it now
  pki::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out) return fail(pki::last_error("BIO_new"));
  // Trust was decided above, so no chain is built; the signature and the messageDigest
  // are still checked.
  if (CMS_verify(cms, signer_stack.get(), nullptr, nullptr, out.get(),
                 CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
    return fail(
        pki::last_error(Code::kInvalidArgument,
                        fmt::format("GetNextCACert answer: the signature of {} does not verify",
                                    describe_certificate(*signer))));
  }

  const std::string inner = detail::bio_bytes(out.get());
  if (inner.empty()) return fail(bad("has empty content (no certs-only SignedData inside)"));
  auto bundle = decode_certs_only(inner);
  if (!bundle.has_value()) {
    return fail(
        bad(fmt::format("content is not a certs-only SignedData: {}", bundle.error().message())));
  }
  if (bundle->certificates.empty()) return fail(bad("holds no certificate"));
  if (bundle->certificates.size() > kMaxNextCaCertificates) {
    return fail(bad(fmt::format("holds {} certificates (at most {})", bundle->certificates.size(),
                                kMaxNextCaCertificates)));
  }
  std::vector<pki::Certificate> certs;
  certs.reserve(bundle->certificates.size());
  for (pki::Ptr<X509>& x : bundle->certificates) {
    auto cert = pki::Certificate::from_x509(std::move(x));
    if (!cert.has_value()) return fail(bad(cert.error().message()));
    certs.push_back(std::move(*cert));
  }
  return certs;
}

}  // namespace scepter::scep
