#include "scep/request.h"

#include <climits>
#include <utility>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "scep/cms_util.h"
#include "scep/payload.h"

namespace scepter::scep {
namespace {

using detail::X509Stack;

// The decoder collects what a FAILURE reply must echo as it goes, so that every exit
// after the transactionID and senderNonce were read can still be answered.
class Decoder {
 public:
  Decoder(EVP_PKEY* key, X509* cert) : key_(key), cert_(cert) {}

  DecodeResult run(std::string_view der) {
    bool ok = decode(der);
    ERR_clear_error();  // OpenSSL leaves traces even on success (recipients tried)
    if (!ok) return tl::unexpected(std::move(err_));
    return std::move(req_);
  }

 private:
  // Each step returns false after recording the failure in err_.
  bool refuse(FailInfo fail_info, Status status) {
    err_.fail_info = fail_info;
    err_.status = std::move(status);
    return false;
  }
  bool refuse(FailInfo fail_info, std::string message) {
    return refuse(fail_info, invalid_argument(std::move(message)));
  }

  bool decode(std::string_view der);
  // Signed layer: algorithms, signer, signature, messageType.
  bool check_signed(CMS_ContentInfo* cms, CMS_SignerInfo* si);
  // Envelope: algorithm, recipient, decryption.
  bool open_envelope(std::string_view env_der);
  // Payload by messageType.
  bool parse_payload();

  EVP_PKEY* key_;
  X509* cert_;
  DecodeError err_;
  DecodedRequest req_;
};

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool Decoder::decode(std::string_view der) {
  if (key_ == nullptr) return refuse(FailInfo::kBadMessageCheck, internal_error("no SCEP key"));
  const AttributeTypes& types = attribute_types();

  auto parsed = detail::parse_cms(der);
  if (!parsed) return refuse(FailInfo::kBadRequest, parsed.error());
  CMS_ContentInfo* cms = parsed->get();
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
    return refuse(FailInfo::kBadRequest, "PKIMessage is not a SignedData");
  }
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) {
    return refuse(FailInfo::kBadMessageCheck, "PKIMessage must have exactly one signerInfo");
  }
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);

  // What a FAILURE reply echoes. Without both there is nobody to answer.
  auto tid = detail::string_attr(si, types.transaction_id);
  if (!tid || tid->empty() || tid->size() > kMaxTransactionIdSize || !printable_ascii(*tid)) {
    return refuse(FailInfo::kBadRequest, "missing or malformed transactionID");
  }
  auto nonce = detail::octet_attr(si, types.sender_nonce);
  if (!nonce || nonce->empty() || nonce->size() > kMaxNonceSize) {
    return refuse(FailInfo::kBadRequest, "missing or malformed senderNonce");
  }
  err_.transaction_id = *tid;
  err_.sender_nonce = *nonce;
  err_.replyable = true;
  req_.transaction_id = std::move(*tid);
  req_.sender_nonce = std::move(*nonce);

  if (!check_signed(cms, si)) return false;

  ASN1_OCTET_STRING** content = CMS_get0_content(cms);
  if (content == nullptr || *content == nullptr) {
    return refuse(FailInfo::kBadMessageCheck, "PKIMessage has no pkcsPKIEnvelope");
  }
  if (!open_envelope(detail::view(*content))) return false;
  return parse_payload();
}

bool Decoder::check_signed(CMS_ContentInfo* cms, CMS_SignerInfo* si) {
  X509_ALGOR* digest_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, nullptr);
  const ASN1_OBJECT* digest_oid = nullptr;
  X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
  auto digest = digest_from_nid(OBJ_obj2nid(digest_oid));
  if (!digest) {
    return refuse(FailInfo::kBadAlg,
                  "unsupported digest algorithm " + detail::oid_text(digest_oid));
  }
  err_.digest = *digest;
  req_.digest = *digest;

  // The signer certificate comes from the message itself; clients sign with a
  // throw-away self-signed certificate, or with their current one when renewing.
  X509Stack certs(CMS_get1_certs(cms));
  X509* signer = nullptr;
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs.get(), i)) == 0) {
      signer = sk_X509_value(certs.get(), i);
      break;
    }
  }
  if (signer == nullptr) {
    return refuse(FailInfo::kBadMessageCheck, "signer certificate is not in the PKIMessage");
  }
  err_.signer = pki::up_ref(signer);
  req_.signer = pki::up_ref(signer);

  // Signature over the signed attributes and messageDigest over the content, with
  // only that certificate and no chain verification.
  X509Stack only(sk_X509_new_null());
  pki::Ptr<X509> ref = pki::up_ref(signer);
  if (!only || sk_X509_push(only.get(), ref.get()) <= 0) {
    return refuse(FailInfo::kBadMessageCheck, pki::last_error("sk_X509_push"));
  }
  ref.release();
  // No output BIO: OpenSSL reads the content into a null sink to check the digest; the
  // envelope is taken from the parsed structure afterwards, without a copy.
  const unsigned flags = CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY;
  if (CMS_verify(cms, only.get(), nullptr, nullptr, nullptr, flags) != 1) {
    return refuse(FailInfo::kBadMessageCheck,
                  pki::last_error(Code::kInvalidArgument, "PKIMessage signature check failed"));
  }

  // Only now are the attributes authentic.
  req_.signing_time = detail::signing_time(si);
  auto type_text = detail::string_attr(si, attribute_types().message_type);
  if (!type_text) return refuse(FailInfo::kBadRequest, "missing or malformed messageType");
  auto type = parse_message_type(*type_text);
  if (!type) return refuse(FailInfo::kBadRequest, "unknown messageType '" + *type_text + "'");
  err_.type = *type;
  req_.type = *type;
  if (*type == MessageType::kCertRep) {
    return refuse(FailInfo::kBadRequest, "a CertRep is not a request");
  }
  return true;
}

bool Decoder::open_envelope(std::string_view env_der) {
  if (env_der.empty() || env_der.size() > LONG_MAX) {
    return refuse(FailInfo::kBadMessageCheck, "empty pkcsPKIEnvelope");
  }
  auto alg = detail::envelope_cipher(env_der);
  if (!alg) return refuse(FailInfo::kBadMessageCheck, "pkcsPKIEnvelope: " + alg.error().message());
  auto cipher = alg->cipher;
  if (!cipher) {
    return refuse(FailInfo::kBadAlg, "unsupported content-encryption algorithm " + alg->oid);
  }
  if (Status s = detail::cipher_ready(*cipher); !s.ok()) return refuse(FailInfo::kBadAlg, s);
  req_.cipher = *cipher;

  auto env = detail::parse_cms(env_der);
  if (!env || OBJ_obj2nid(CMS_get0_type(env->get())) != NID_pkcs7_enveloped) {
    return refuse(FailInfo::kBadMessageCheck, "pkcsPKIEnvelope is not an EnvelopedData");
  }
  req_.recipient_matched = false;
  STACK_OF(CMS_RecipientInfo)* infos = CMS_get0_RecipientInfos(env->get());
  for (int i = 0; cert_ != nullptr && infos && i < sk_CMS_RecipientInfo_num(infos); ++i) {
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(infos, i);
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
        CMS_RecipientInfo_ktri_cert_cmp(ri, cert_) == 0) {
      req_.recipient_matched = true;
    }
  }

  // The certificate is deliberately not passed: OpenSSL then tries every recipient
  // and, if none opens, decrypts with a random key instead of failing early. Every
  // failure looks the same from outside, which is the defence against Bleichenbacher's
  // attack on PKCS#1 v1.5 key transport; hence no OpenSSL detail in the message either.
  pki::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out) return refuse(FailInfo::kBadMessageCheck, pki::last_error("BIO_new"));
  if (CMS_decrypt(env->get(), key_, nullptr, nullptr, out.get(), CMS_BINARY) != 1) {
    return refuse(FailInfo::kBadMessageCheck, "cannot decrypt the pkcsPKIEnvelope");
  }
  req_.payload = detail::bio_bytes(out.get());
  return true;
}

bool Decoder::parse_payload() {
  switch (req_.type) {
    case MessageType::kPkcsReq:
    case MessageType::kRenewalReq: {
      auto csr = decode_pkcs10(req_.payload);
      if (!csr) return refuse(FailInfo::kBadRequest, csr.error());
      req_.csr = std::move(*csr);
      break;
    }
    case MessageType::kCertPoll: {
      auto ias = decode_issuer_and_subject(req_.payload);
      if (!ias) return refuse(FailInfo::kBadRequest, ias.error());
      req_.issuer = std::move(ias->issuer);
      req_.subject = std::move(ias->subject);
      break;
    }
    case MessageType::kGetCert:
    case MessageType::kGetCrl: {
      auto ias = decode_issuer_and_serial(req_.payload);
      if (!ias) return refuse(FailInfo::kBadRequest, ias.error());
      req_.issuer = std::move(ias->issuer);
      req_.serial = std::move(ias->serial);
      break;
    }
    case MessageType::kCertRep:
      return refuse(FailInfo::kBadRequest, "a CertRep is not a request");
  }
  return true;
}

}  // namespace

DecodeResult decode_pki_message(std::string_view der, EVP_PKEY* recipient_key,
                                X509* recipient_cert) {
  return Decoder(recipient_key, recipient_cert).run(der);
}

}  // namespace scepter::scep
