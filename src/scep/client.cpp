#include "scep/client.h"

#include <climits>
#include <cstdint>
#include <utility>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "scep/cms_util.h"

namespace scepter::scep {
namespace {

using detail::X509Stack;

Status malformed(std::string what) { return invalid_argument("CertRep: " + std::move(what)); }

Result<X509Stack> single_cert_stack(X509* cert) {
  X509Stack stack(sk_X509_new_null());
  pki::Ptr<X509> ref = pki::up_ref(cert);
  if (!stack || sk_X509_push(stack.get(), ref.get()) <= 0) {
    return fail(pki::last_error("sk_X509_push"));
  }
  ref.release();  // the stack owns it now
  return stack;
}

Result<CertsOnly> certs_of(CMS_ContentInfo* cms) {
  CertsOnly out;
  X509Stack certs(CMS_get1_certs(cms));
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    out.certificates.push_back(pki::up_ref(sk_X509_value(certs.get(), i)));
  }
  detail::CrlStack crls(CMS_get1_crls(cms));
  for (int i = 0; crls && i < sk_X509_CRL_num(crls.get()); ++i) {
    X509_CRL* crl = sk_X509_CRL_value(crls.get(), i);
    if (X509_CRL_up_ref(crl) != 1) return fail(pki::last_error("X509_CRL_up_ref"));
    out.crls.emplace_back(crl);
  }
  ERR_clear_error();  // CMS_get1_* complain when a list is absent
  return out;
}

// Reads the signed attributes of the CertRep into `rep`.
Status read_attributes(CMS_SignerInfo* si, CertRep& rep) {
  const AttributeTypes& types = attribute_types();
  auto type = detail::string_attr(si, types.message_type);
  if (!type || parse_message_type(*type) != MessageType::kCertRep) {
    return malformed("messageType is not CertRep");
  }
  auto status_text = detail::string_attr(si, types.pki_status);
  auto status = status_text ? parse_pki_status(*status_text) : std::nullopt;
  if (!status) return malformed("missing or unknown pkiStatus");
  rep.status = *status;
  auto tid = detail::string_attr(si, types.transaction_id);
  auto recipient_nonce = detail::octet_attr(si, types.recipient_nonce);
  auto sender_nonce = detail::octet_attr(si, types.sender_nonce);
  if (!tid || !recipient_nonce || !sender_nonce) {
    return malformed("missing transactionID, senderNonce or recipientNonce");
  }
  rep.transaction_id = std::move(*tid);
  rep.recipient_nonce = std::move(*recipient_nonce);
  rep.sender_nonce = std::move(*sender_nonce);
  if (rep.status == PkiStatus::kFailure) {
    auto info_text = detail::string_attr(si, types.fail_info);
    rep.fail_info = info_text ? parse_fail_info(*info_text) : std::nullopt;
    if (!rep.fail_info) return malformed("FAILURE without a valid failInfo");
    rep.fail_info_text = detail::string_attr(si, types.fail_info_text).value_or("");
  }
  return ok_status();
}

}  // namespace

Result<std::string> encode_pki_request(const PkiRequestParams& params) {
  if (params.payload.empty()) return fail(invalid_argument("empty request payload"));
  if (params.transaction_id.empty()) return fail(invalid_argument("no transactionID"));
  if (params.type == MessageType::kCertRep) return fail(invalid_argument("CertRep is no request"));
  const AttributeTypes& types = attribute_types();

  ASSIGN_OR_RETURN(std::string env, detail::envelope(params.payload, params.recipient_cert,
                                                     params.cipher, params.ber));
  std::string nonce = params.sender_nonce;
  if (nonce.empty()) {
    ASSIGN_OR_RETURN(nonce, detail::random_bytes(kNonceSize));
  }
  std::vector<detail::Attribute> attrs = {
      {types.message_type.obj, V_ASN1_PRINTABLESTRING,
       std::to_string(static_cast<int>(params.type))},
      {types.transaction_id.obj, V_ASN1_PRINTABLESTRING, params.transaction_id},
      {types.sender_nonce.obj, V_ASN1_OCTET_STRING, std::move(nonce)},
  };
  detail::SignSpec spec;
  spec.cert = params.signer_cert;
  spec.key = params.signer_key;
  spec.digest = params.digest;
  spec.ber = params.ber;
  return detail::sign_data(env, spec, attrs);
}

Result<CertRep> decode_cert_rep(std::string_view der, EVP_PKEY* requester_key, X509* signer_cert) {
  if (signer_cert == nullptr) return fail(invalid_argument("no CertRep signer certificate"));
  ASSIGN_OR_RETURN(pki::Ptr<CMS_ContentInfo> cms, detail::parse_cms(der));
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return fail(malformed("not a SignedData"));
  }
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) {
    return fail(malformed("not exactly one signerInfo"));
  }
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);

  ASSIGN_OR_RETURN(X509Stack trusted, single_cert_stack(signer_cert));
  pki::Ptr<BIO> content_bio(BIO_new(BIO_s_mem()));
  if (!content_bio) return fail(pki::last_error("BIO_new"));
  const unsigned flags = CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY;
  if (CMS_verify(cms.get(), trusted.get(), nullptr, nullptr, content_bio.get(), flags) != 1) {
    return fail(pki::last_error(Code::kInvalidArgument, "CertRep signature check failed"));
  }

  CertRep rep;
  X509_ALGOR* digest_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, nullptr);
  const ASN1_OBJECT* digest_oid = nullptr;
  X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
  rep.digest = digest_from_nid(OBJ_obj2nid(digest_oid)).value_or(DigestAlg::kSha256);
  RETURN_IF_ERROR(read_attributes(si, rep));
  if (rep.status != PkiStatus::kSuccess) return rep;

  if (requester_key == nullptr) return fail(invalid_argument("no key to open the CertRep"));
  const std::string env_der = detail::bio_bytes(content_bio.get());
  ASSIGN_OR_RETURN(detail::EnvelopeCipher alg, detail::envelope_cipher(env_der));
  rep.cipher = alg.cipher;
  // Some CAs (micromdm's scepserver) answer with single DES whatever the request used:
  // the reply is the CA's choice, and only opening it needs the legacy provider.
  if (alg.cipher) RETURN_IF_ERROR(detail::cipher_ready(*alg.cipher));
  ASSIGN_OR_RETURN(pki::Ptr<CMS_ContentInfo> env, detail::parse_cms(env_der));
  if (OBJ_obj2nid(CMS_get0_type(env.get())) != NID_pkcs7_enveloped) {
    return fail(malformed("SUCCESS content is not an EnvelopedData"));
  }
  pki::Ptr<BIO> inner(BIO_new(BIO_s_mem()));
  if (!inner ||
      CMS_decrypt(env.get(), requester_key, nullptr, nullptr, inner.get(), CMS_BINARY) != 1) {
    return fail(pki::last_error(Code::kInvalidArgument, "cannot decrypt the CertRep envelope"));
  }
  ERR_clear_error();
  ASSIGN_OR_RETURN(CertsOnly certs, decode_certs_only(detail::bio_bytes(inner.get())));
  if (certs.certificates.empty() && certs.crls.empty()) {
    return fail(malformed("SUCCESS without certificate or CRL"));
  }
  rep.certificates = std::move(certs.certificates);
  if (!certs.crls.empty()) rep.crl = std::move(certs.crls.front());
  return rep;
}

Result<CertsOnly> decode_certs_only(std::string_view der) {
  ASSIGN_OR_RETURN(pki::Ptr<CMS_ContentInfo> cms, detail::parse_cms(der));
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return fail(invalid_argument("certs-only PKCS#7 is not a SignedData"));
  }
  return certs_of(cms.get());
}

Result<pki::Ptr<X509>> make_self_signed_signer(EVP_PKEY* key, const X509_NAME* subject,
                                               DigestAlg digest) {
  if (key == nullptr || subject == nullptr) {
    return fail(invalid_argument("a signer certificate needs a key and a subject"));
  }
  ASSIGN_OR_RETURN(std::string rnd, detail::random_bytes(sizeof(uint64_t)));
  uint64_t serial = 0;
  for (char c : rnd) serial = (serial << 8) | static_cast<unsigned char>(c);
  serial = (serial & INT64_MAX) | 1;  // positive and non-zero

  pki::Ptr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 3650, 0, nullptr) == nullptr ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return fail(pki::last_error("building the signer certificate"));
  }
  if (X509_sign(cert.get(), key, evp_md(digest)) <= 0) {
    return fail(pki::last_error("signing the signer certificate"));
  }
  return cert;
}

Result<std::string> transaction_id_for(EVP_PKEY* key) {
  if (key == nullptr) return fail(invalid_argument("no key"));
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return fail(pki::last_error("encoding SubjectPublicKeyInfo"));
  std::string spki(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(spki.data());
  if (i2d_PUBKEY(key, &p) != len) return fail(pki::last_error("encoding SubjectPublicKeyInfo"));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(spki.data(), spki.size(), md, &md_len, EVP_md5(), nullptr) != 1) {
    return fail(pki::last_error("MD5"));
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < md_len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

Result<std::string> transaction_id_for(X509_REQ* csr) {
  if (csr == nullptr) return fail(invalid_argument("no CSR"));
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr);
  if (key == nullptr) return fail(pki::last_error(Code::kInvalidArgument, "CSR has no key"));
  return transaction_id_for(key);
}

}  // namespace scepter::scep
