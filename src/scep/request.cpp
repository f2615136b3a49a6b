#include "scep/request.h"

#include <atomic>
#include <climits>
#include <utility>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "pki/key.h"
#include "pki/key_metrics.h"
#include "scep/cms_util.h"
#include "scep/payload.h"
#include "scep/signed_data.h"

namespace scepter::scep {
namespace {

using detail::X509Stack;

std::atomic<std::uint64_t> g_envelope_decryptions{0};
std::atomic<std::uint64_t> g_openssl_decodes{0};

constexpr int kMinSignerBits = 1024;
constexpr int kMaxSignerBits = 4096;
constexpr int kMaxSignerExponentBits = 32;  // odd and <= 2^32 means < 2^32

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

// The signer key bounds the cost of the signature check and must be able to receive
// the reply (RSA key transport). Checked before any public-key operation.
Status check_signer_key(EVP_PKEY* key) {
  if (key == nullptr) {
    ERR_clear_error();
    return invalid_argument("the signer certificate's public key cannot be read");
  }
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    return invalid_argument("the signer certificate must have an RSA key");
  }
  const int bits = EVP_PKEY_get_bits(key);
  if (bits < kMinSignerBits || bits > kMaxSignerBits) {
    return invalid_argument("the signer's RSA key must have 1024 to 4096 bits");
  }
  BIGNUM* e_raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e_raw) != 1 || e_raw == nullptr) {
    ERR_clear_error();
    return invalid_argument("the signer's RSA exponent cannot be read");
  }
  pki::Ptr<BIGNUM> e(e_raw);
  if (BN_is_negative(e.get()) || !BN_is_odd(e.get()) || BN_is_one(e.get()) ||
      BN_num_bits(e.get()) > kMaxSignerExponentBits) {
    return invalid_argument("the signer's RSA exponent must be odd, above 1 and at most 2^32");
  }
  return ok_status();
}

}  // namespace

struct PendingPkiMessage::State {
  pki::Ptr<CMS_ContentInfo> cms;       // the SignedData
  CMS_SignerInfo* si = nullptr;        // borrowed from cms
  pki::Ptr<CMS_ContentInfo> envelope;  // the EnvelopedData
  // Borrowed from envelope: its RecipientInfos (at most kMaxLaidOutRecipients, all key
  // transport) with their encryptedKey sizes, in order.
  std::vector<CMS_RecipientInfo*> ris;
  std::vector<std::size_t> encrypted_key_sizes;
  DecodeError err;  // the echo fields, ready for a refusal
  DecodedRequest req;
  // Read by OpenSSL alone: the signer certificate, as CMS_verify takes it.
  pki::Ptr<X509> signer_x509;
  // Read through signed_data.h (`cms` is then the message without its certificates):
  // the signedAttrs as signed, and the message, for OpenSSL to decode again if the
  // signature does not check out on this path.
  bool split = false;
  std::string signed_attrs;
  std::string original;
};

namespace {

// The decoder collects what a FAILURE reply must echo as it goes, so that every exit
// after the transactionID and senderNonce were read can still be answered.
using State = PendingPkiMessage::State;

DecodeError refuse(State& st, FailInfo fail_info, Status status, std::string detail = {}) {
  DecodeError e = std::move(st.err);
  e.fail_info = fail_info;
  e.status = std::move(status);
  e.detail = std::move(detail);
  return e;
}

DecodeError refuse(State& st, FailInfo fail_info, std::string message) {
  return refuse(st, fail_info, invalid_argument(std::move(message)));
}

// Every refusal from the envelope on: one failInfo, one text; the reason for the trace.
DecodeError refuse_envelope(State& st, std::string detail) {
  return refuse(st, FailInfo::kBadMessageCheck, invalid_argument(kEnvelopeFailureText),
                std::move(detail));
}

// The echo fields: what a FAILURE reply needs. Without both there is nobody to answer.
std::optional<DecodeError> read_echo_fields(State& st) {
  const AttributeTypes& types = attribute_types();
  auto tid = detail::string_attr(st.si, types.transaction_id);
  if (!tid || tid->empty() || tid->size() > kMaxTransactionIdSize || !printable_ascii(*tid)) {
    return refuse(st, FailInfo::kBadRequest, "missing or malformed transactionID");
  }
  auto nonce = detail::octet_attr(st.si, types.sender_nonce);
  if (!nonce || nonce->empty() || nonce->size() > kMaxNonceSize) {
    return refuse(st, FailInfo::kBadRequest, "missing or malformed senderNonce");
  }
  st.err.transaction_id = *tid;
  st.err.sender_nonce = *nonce;
  st.err.replyable = true;
  st.req.transaction_id = std::move(*tid);
  st.req.sender_nonce = std::move(*nonce);
  return std::nullopt;
}

std::optional<DecodeError> check_digest(State& st) {
  X509_ALGOR* digest_alg = nullptr;
  CMS_SignerInfo_get0_algs(st.si, nullptr, nullptr, &digest_alg, nullptr);
  const ASN1_OBJECT* digest_oid = nullptr;
  X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_alg);
  auto digest = digest_from_nid(OBJ_obj2nid(digest_oid));
  if (!digest) {
    return refuse(st, FailInfo::kBadAlg,
                  "unsupported digest algorithm " + detail::oid_text(digest_oid));
  }
  st.err.digest = *digest;
  st.req.digest = *digest;
  return std::nullopt;
}

// Signed layer, no key: the signer certificate and its key.
std::optional<DecodeError> check_signer(State& st) {
  // The signer certificate comes from the message itself; clients sign with a
  // throw-away self-signed certificate, or with their current one when renewing.
  X509Stack certs(CMS_get1_certs(st.cms.get()));
  X509* signer = nullptr;
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    if (CMS_SignerInfo_cert_cmp(st.si, sk_X509_value(certs.get(), i)) == 0) {
      signer = sk_X509_value(certs.get(), i);
      break;
    }
  }
  if (signer == nullptr) {
    return refuse(st, FailInfo::kBadMessageCheck, "signer certificate is not in the PKIMessage");
  }
  st.signer_x509 = pki::up_ref(signer);
  if (auto peer = PeerCert::from_x509(signer); peer.has_value()) {
    st.err.signer = *peer;
    st.req.signer = std::move(*peer);
  }
  if (Status s = check_signer_key(X509_get0_pubkey(signer)); !s.ok()) {
    return refuse(st, FailInfo::kBadAlg, s);
  }
  return std::nullopt;
}

// Envelope, no key: algorithm, and one KeyTransRecipientInfo.
std::optional<DecodeError> check_envelope(State& st) {
  ASN1_OCTET_STRING** content = CMS_get0_content(st.cms.get());
  if (content == nullptr || *content == nullptr) {
    return refuse(st, FailInfo::kBadMessageCheck, "PKIMessage has no pkcsPKIEnvelope");
  }
  const std::string_view env_der = detail::view(*content);
  auto layout = detail::envelope_layout(env_der);
  if (!layout) return refuse_envelope(st, "pkcsPKIEnvelope: " + layout.error().message());
  if (!layout->cipher.cipher) {
    return refuse(st, FailInfo::kBadAlg,
                  "unsupported content-encryption algorithm " + layout->cipher.oid);
  }
  if (Status s = detail::cipher_ready(*layout->cipher.cipher); !s.ok()) {
    return refuse(st, FailInfo::kBadAlg, s);
  }
  st.req.cipher = *layout->cipher.cipher;
  // One recipient is the rule (RFC 8894); a few are accepted because some clients
  // (micromdm's scepclient) encrypt to every certificate GetCACert gave them, the whole
  // chain of a subordinate CA included. Only the one naming us is ever decrypted.
  if (layout->recipient_count < 1 || layout->recipient_count > detail::kMaxLaidOutRecipients) {
    return refuse_envelope(st, "pkcsPKIEnvelope has " + std::to_string(layout->recipient_count) +
                                   " recipientInfos, not 1 to " +
                                   std::to_string(detail::kMaxLaidOutRecipients));
  }
  if (layout->encrypted_key_sizes.size() != layout->recipient_count) {
    return refuse_envelope(st, "a recipientInfo is not a KeyTransRecipientInfo");
  }
  st.encrypted_key_sizes = layout->encrypted_key_sizes;

  auto env = detail::parse_cms(env_der);
  if (!env || OBJ_obj2nid(CMS_get0_type(env->get())) != NID_pkcs7_enveloped) {
    ERR_clear_error();
    return refuse_envelope(st, "pkcsPKIEnvelope is not an EnvelopedData");
  }
  STACK_OF(CMS_RecipientInfo)* infos = CMS_get0_RecipientInfos(env->get());
  const int count = infos == nullptr ? 0 : sk_CMS_RecipientInfo_num(infos);
  if (count < 0 || static_cast<std::size_t>(count) != layout->recipient_count) {
    return refuse_envelope(st, "pkcsPKIEnvelope: recipientInfos read differently by CMS");
  }
  for (int i = 0; i < count; ++i) {
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(infos, i);
    if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS) {
      return refuse_envelope(st, "pkcsPKIEnvelope: recipientInfos read differently by CMS");
    }
    st.ris.push_back(ri);
  }
  st.envelope = std::move(*env);
  return std::nullopt;
}

std::optional<DecodeError> parse_payload(State& st) {
  DecodedRequest& req = st.req;
  switch (req.type) {
    case MessageType::kPkcsReq:
    case MessageType::kRenewalReq: {
      // DER only: Csr::parse would also read PEM or base64 text.
      if (req.payload.empty() || req.payload.front() != 0x30) {
        return refuse_envelope(st, "payload: not a DER PKCS#10 request");
      }
      auto csr = pki::Csr::parse(req.payload);
      if (!csr) return refuse_envelope(st, "payload: " + csr.error().message());
      req.csr = std::move(*csr);
      break;
    }
    case MessageType::kCertPoll: {
      auto ias = decode_issuer_and_subject(req.payload);
      if (!ias) return refuse_envelope(st, "payload: " + ias.error().message());
      req.issuer = std::move(ias->issuer);
      req.subject = std::move(ias->subject);
      break;
    }
    case MessageType::kGetCert:
    case MessageType::kGetCrl: {
      auto ias = decode_issuer_and_serial(req.payload);
      if (!ias) return refuse_envelope(st, "payload: " + ias.error().message());
      req.issuer = std::move(ias->issuer);
      req.serial = std::move(ias->serial);
      break;
    }
    case MessageType::kCertRep:
      return refuse(st, FailInfo::kBadRequest, "a CertRep is not a request");
  }
  return std::nullopt;
}

}  // namespace

PendingPkiMessage::PendingPkiMessage(std::unique_ptr<State> state) : state_(std::move(state)) {}
PendingPkiMessage::PendingPkiMessage(PendingPkiMessage&&) noexcept = default;
PendingPkiMessage& PendingPkiMessage::operator=(PendingPkiMessage&&) noexcept = default;
PendingPkiMessage::~PendingPkiMessage() = default;

const std::string& PendingPkiMessage::transaction_id() const { return state_->req.transaction_id; }

namespace {

// The message as OpenSSL reads it, certificates and all.
tl::expected<std::unique_ptr<State>, DecodeError> parse_with_openssl(std::string_view der) {
  auto st = std::make_unique<State>();
  g_openssl_decodes.fetch_add(1, std::memory_order_relaxed);
  auto parsed = detail::parse_cms(der);
  if (!parsed) return tl::unexpected(refuse(*st, FailInfo::kBadRequest, parsed.error()));
  st->cms = std::move(*parsed);
  if (OBJ_obj2nid(CMS_get0_type(st->cms.get())) != NID_pkcs7_signed) {
    return tl::unexpected(refuse(*st, FailInfo::kBadRequest, "PKIMessage is not a SignedData"));
  }
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(st->cms.get());
  if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) {
    return tl::unexpected(
        refuse(*st, FailInfo::kBadMessageCheck, "PKIMessage must have exactly one signerInfo"));
  }
  st->si = sk_CMS_SignerInfo_value(infos, 0);
  if (auto e = read_echo_fields(*st)) return tl::unexpected(std::move(*e));
  if (auto e = check_digest(*st)) return tl::unexpected(std::move(*e));
  if (auto e = check_signer(*st)) return tl::unexpected(std::move(*e));
  if (auto e = check_envelope(*st)) return tl::unexpected(std::move(*e));
  return st;
}

// Whether the signed attributes are ones whose signature the split path may check as
// received and that CMS_verify's attribute rules accept: every attribute with one value,
// contentType and messageDigest exactly once, signingTime at most once, no
// countersignature.
bool plain_signed_attributes(CMS_SignerInfo* si) {
  const int n = CMS_signed_get_attr_count(si);
  if (n <= 0) return false;
  const ASN1_OBJECT* content_type = OBJ_nid2obj(NID_pkcs9_contentType);
  const ASN1_OBJECT* message_digest = OBJ_nid2obj(NID_pkcs9_messageDigest);
  const ASN1_OBJECT* signing_time = OBJ_nid2obj(NID_pkcs9_signingTime);
  const ASN1_OBJECT* countersignature = OBJ_nid2obj(NID_pkcs9_countersignature);
  int content_types = 0, digests = 0, times = 0;
  for (int i = 0; i < n; ++i) {
    X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, i);
    if (attr == nullptr || X509_ATTRIBUTE_count(attr) != 1) return false;
    const ASN1_OBJECT* type = X509_ATTRIBUTE_get0_object(attr);
    if (OBJ_cmp(type, content_type) == 0) {
      ++content_types;
    } else if (OBJ_cmp(type, message_digest) == 0) {
      ++digests;
    } else if (OBJ_cmp(type, signing_time) == 0) {
      ++times;
    } else if (OBJ_cmp(type, countersignature) == 0) {
      return false;
    }
  }
  return content_types == 1 && digests == 1 && times <= 1;
}

// A signatureAlgorithm CMS_verify accepts for an RSA key other than RSASSA-PSS:
// rsaEncryption, or an RSA PKCS#1 v1.5 signature OID (which some clients put there).
bool pkcs1_signature_algorithm(CMS_SignerInfo* si) {
  X509_ALGOR* alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, nullptr, &alg);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
  const int nid = OBJ_obj2nid(oid);
  if (nid == NID_rsaEncryption) return true;
  int pkey_nid = NID_undef;
  return nid != NID_rsassaPss && OBJ_find_sigid_algs(nid, nullptr, &pkey_nid) == 1 &&
         pkey_nid == NID_rsaEncryption;
}

// The split path (request.h). nullptr whenever the message is not one it takes, or a
// check fails on it: the caller then decodes with OpenSSL alone, which answers.
std::unique_ptr<State> parse_split(std::string_view der) {
  auto split = detail::split_signed_data(der);
  if (!split || split->certs.size() != 1 || split->sid_issuer.empty() || !split->digest_listed ||
      split->signed_attrs.empty() || split->has_unsigned_attrs) {
    return nullptr;
  }
  auto fields = detail::certificate_fields(split->certs.front());
  if (!fields || fields->issuer != split->sid_issuer || fields->serial != split->sid_serial) {
    return nullptr;
  }
  auto st = std::make_unique<State>();
  auto parsed = detail::parse_cms(split->without_certs);
  if (!parsed || OBJ_obj2nid(CMS_get0_type(parsed->get())) != NID_pkcs7_signed) return nullptr;
  st->cms = std::move(*parsed);
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(st->cms.get());
  if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) return nullptr;
  st->si = sk_CMS_SignerInfo_value(infos, 0);
  if (read_echo_fields(*st) || check_digest(*st) || !plain_signed_attributes(st->si) ||
      !pkcs1_signature_algorithm(st->si)) {
    return nullptr;
  }
  auto key = pki::Key::from_public_der(fields->spki);
  if (!key.has_value() || !check_signer_key(key->evp()).ok()) return nullptr;
  st->req.signer = PeerCert(std::string(split->certs.front()),
                            detail::issuer_and_serial_der(fields->issuer, fields->serial),
                            pki::up_ref(key->evp()));
  st->err.signer = st->req.signer;
  if (check_envelope(*st)) return nullptr;
  st->split = true;
  st->signed_attrs = std::move(split->signed_attrs);
  st->original.assign(der);
  return st;
}

// The split path's signature check, as CMS_verify makes it: messageDigest is the digest
// of the content, and the signature over the signedAttrs verifies with the signer's key.
bool verify_split(State& st) {
  const EVP_MD* md = evp_md(st.req.digest);
  ASN1_OCTET_STRING** content = CMS_get0_content(st.cms.get());
  const auto* expected = static_cast<const ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
      st.si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
  const ASN1_OCTET_STRING* signature = CMS_SignerInfo_get0_signature(st.si);
  if (content == nullptr || *content == nullptr || expected == nullptr || signature == nullptr) {
    return false;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const std::string_view data = detail::view(*content);
  if (EVP_Digest(data.data(), data.size(), digest, &digest_len, md, nullptr) != 1 ||
      detail::view(expected) !=
          std::string_view(reinterpret_cast<const char*>(digest), digest_len)) {
    return false;
  }
  pki::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return ctx &&
         EVP_DigestVerifyInit_ex(ctx.get(), nullptr, EVP_MD_get0_name(md), nullptr, nullptr,
                                 st.req.signer.key.get(), nullptr) == 1 &&
         EVP_DigestVerify(ctx.get(), ASN1_STRING_get0_data(signature),
                          static_cast<std::size_t>(ASN1_STRING_length(signature)),
                          reinterpret_cast<const unsigned char*>(st.signed_attrs.data()),
                          st.signed_attrs.size()) == 1;
}

// CMS_verify: the signature over the signed attributes and messageDigest over the
// content, with only the signer certificate (its key bounded by check_signer_key) and no
// chain verification.
Status verify_with_openssl(State& st) {
  X509Stack only(sk_X509_new_null());
  pki::Ptr<X509> ref = pki::up_ref(st.signer_x509.get());
  if (!only || sk_X509_push(only.get(), ref.get()) <= 0) return pki::last_error("sk_X509_push");
  ref.release();
  // No output BIO: OpenSSL reads the content into a null sink to check the digest; the
  // envelope was taken from the parsed structure, without a copy.
  const unsigned flags = CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY;
  if (CMS_verify(st.cms.get(), only.get(), nullptr, nullptr, nullptr, flags) != 1) {
    return pki::last_error(Code::kInvalidArgument, "PKIMessage signature check failed");
  }
  return ok_status();
}

}  // namespace

tl::expected<PendingPkiMessage, DecodeError> PendingPkiMessage::parse(std::string_view der,
                                                                      bool openssl_only) {
  // OpenSSL leaves traces in its error queue even on paths that end well.
  struct ClearErrors {
    ~ClearErrors() { ERR_clear_error(); }
  } clear_errors;
  if (!openssl_only) {
    if (auto st = parse_split(der)) return PendingPkiMessage(std::move(st));
    ERR_clear_error();
  }
  auto st = parse_with_openssl(der);
  if (!st) return tl::unexpected(std::move(st.error()));
  return PendingPkiMessage(std::move(*st));
}

std::optional<std::size_t> PendingPkiMessage::recipient_for(X509* cert) const {
  if (cert == nullptr) return std::nullopt;
  // Compares the issuerAndSerialNumber, or the subjectKeyIdentifier with the
  // certificate's SKI extension; nothing else is computed. Exactly one must name us: two
  // would be two decryptions to try.
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < state_->ris.size(); ++i) {
    if (CMS_RecipientInfo_ktri_cert_cmp(state_->ris[i], cert) != 0) continue;
    if (found) {
      found.reset();
      break;
    }
    found = i;
  }
  ERR_clear_error();
  return found;
}

bool PendingPkiMessage::addressed_to(X509* cert) const { return recipient_for(cert).has_value(); }

std::string PendingPkiMessage::recipient_text() const {
  ASN1_OCTET_STRING* key_id = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (state_->ris.empty() ||
      CMS_RecipientInfo_ktri_get0_signer_id(state_->ris.front(), &key_id, &issuer, &serial) != 1) {
    ERR_clear_error();
    return "(unknown recipient)";
  }
  if (key_id != nullptr) {
    return "subjectKeyIdentifier " + hex(detail::view(key_id).substr(0, 64));
  }
  std::string name = "(none)";
  if (issuer != nullptr) {
    char buf[256];
    if (X509_NAME_oneline(issuer, buf, sizeof buf) != nullptr) name = buf;
  }
  ERR_clear_error();
  return "issuer " + detail::printable_text(name, 200) + " serial " +
         hex(detail::view(serial).substr(0, 32));
}

DecodeError PendingPkiMessage::not_addressed_to_us() const {
  State copy;
  copy.err.replyable = state_->err.replyable;
  copy.err.transaction_id = state_->err.transaction_id;
  copy.err.sender_nonce = state_->err.sender_nonce;
  copy.err.digest = state_->err.digest;
  copy.err.signer = state_->err.signer;
  return refuse_envelope(
      copy, "the recipientInfo names " + recipient_text() + ", none of our certificates");
}

DecodeResult PendingPkiMessage::open(EVP_PKEY* recipient_key, X509* recipient_cert) && {
  State& pre = *state_;
  struct ClearErrors {
    ~ClearErrors() { ERR_clear_error(); }
  } clear_errors;
  if (recipient_key == nullptr || recipient_cert == nullptr ||
      EVP_PKEY_get_base_id(recipient_key) != EVP_PKEY_RSA) {
    return tl::unexpected(refuse(pre, FailInfo::kBadMessageCheck,
                                 internal_error("no RSA key to open SCEP envelopes")));
  }
  const std::optional<std::size_t> mine = recipient_for(recipient_cert);
  if (!mine) {
    return tl::unexpected(refuse_envelope(
        pre, "the recipientInfo names " + recipient_text() + ", not our certificate (or twice)"));
  }
  // An RSA ciphertext is exactly as long as the modulus.
  const int modulus_bytes = EVP_PKEY_get_size(recipient_key);
  const std::size_t key_size = pre.encrypted_key_sizes[*mine];
  if (modulus_bytes <= 0 || key_size != static_cast<std::size_t>(modulus_bytes)) {
    return tl::unexpected(refuse_envelope(pre, "encryptedKey has " + std::to_string(key_size) +
                                                   " bytes, the key " +
                                                   std::to_string(modulus_bytes)));
  }

  if (!(state_->split && verify_split(*state_))) {
    if (state_->split) {
      // Whatever the split path could not confirm, OpenSSL decides, from the start.
      ERR_clear_error();
      auto full = parse_with_openssl(state_->original);
      if (!full) return tl::unexpected(std::move(full.error()));
      state_ = std::move(*full);
    }
    if (Status s = verify_with_openssl(*state_); !s.ok()) {
      return tl::unexpected(refuse(*state_, FailInfo::kBadMessageCheck, std::move(s)));
    }
  }
  State& st = *state_;

  // Only now are the attributes authentic.
  st.req.signing_time = detail::signing_time(st.si);
  auto type_text = detail::string_attr(st.si, attribute_types().message_type);
  if (!type_text) {
    return tl::unexpected(refuse(st, FailInfo::kBadRequest, "missing or malformed messageType"));
  }
  auto type = parse_message_type(*type_text);
  if (!type) {
    return tl::unexpected(
        refuse(st, FailInfo::kBadRequest,
               "unknown messageType '" + detail::printable_text(*type_text, 16) + "'"));
  }
  st.err.type = *type;
  st.req.type = *type;
  if (*type == MessageType::kCertRep) {
    return tl::unexpected(refuse(st, FailInfo::kBadRequest, "a CertRep is not a request"));
  }

  // One private-key operation, on the one recipientInfo, which names our certificate.
  // Given the certificate and without CMS_DEBUG_DECRYPT, OpenSSL goes on with a random
  // content key when the key transport fails (bad padding) instead of returning an
  // error: bad padding and a wrong key both end as undecryptable or meaningless
  // content, and get the same answer as every other failure below.
  pki::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out)
    return tl::unexpected(refuse(st, FailInfo::kBadMessageCheck, pki::last_error("BIO_new")));
  g_envelope_decryptions.fetch_add(1, std::memory_order_relaxed);
  static metrics::Histogram& timing = pki::key_operation_histogram("decrypt", "SCEP request");
  const auto started = std::chrono::steady_clock::now();
  const int decrypted =
      CMS_decrypt(st.envelope.get(), recipient_key, recipient_cert, nullptr, out.get(), CMS_BINARY);
  timing.observe(std::chrono::steady_clock::now() - started);
  if (decrypted != 1) {
    return tl::unexpected(refuse_envelope(st, "the pkcsPKIEnvelope does not decrypt"));
  }
  st.req.payload = detail::bio_bytes(out.get());
  if (auto e = parse_payload(st)) return tl::unexpected(std::move(*e));
  return std::move(st.req);
}

DecodeResult decode_pki_message(std::string_view der, EVP_PKEY* recipient_key,
                                X509* recipient_cert) {
  auto pending = PendingPkiMessage::parse(der);
  if (!pending) return tl::unexpected(std::move(pending.error()));
  return std::move(*pending).open(recipient_key, recipient_cert);
}

std::uint64_t openssl_decodes() { return g_openssl_decodes.load(std::memory_order_relaxed); }

std::uint64_t envelope_decryptions() {
  return g_envelope_decryptions.load(std::memory_order_relaxed);
}

}  // namespace scepter::scep
