#include "pki/ocsp.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "pki/crl_der.h"
#include "pki/der_signer.h"

namespace scepter::pki::ocsp {
namespace {

using der::Tlv;

// Content octets of the OIDs read and written here.
constexpr std::string_view kOidSha1("\x2B\x0E\x03\x02\x1A", 5);
constexpr std::string_view kOidSha256("\x60\x86\x48\x01\x65\x03\x04\x02\x01", 9);
constexpr std::string_view kOidSha384("\x60\x86\x48\x01\x65\x03\x04\x02\x02", 9);
constexpr std::string_view kOidSha512("\x60\x86\x48\x01\x65\x03\x04\x02\x03", 9);
// id-pkix-ocsp-nonce 1.3.6.1.5.5.7.48.1.2
constexpr std::string_view kOidNonce("\x2B\x06\x01\x05\x05\x07\x30\x01\x02", 9);
// The ResponseBytes header up to the BasicOCSPResponse's OCTET STRING: responseType
// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1).
constexpr std::string_view kOidBasicTlv("\x06\x09\x2B\x06\x01\x05\x05\x07\x30\x01\x01", 11);

constexpr unsigned char kOctetString = 0x04;
constexpr unsigned char kEnumerated = 0x0A;
constexpr unsigned char kContext1 = 0xA1;  // [1] constructed

Status malformed(std::string_view what, std::string_view why) {
  return invalid_argument(fmt::format("malformed OCSP request: {}: {}", what, why));
}

// Reads the next TLV of `in`, which must have the given class, tag and form.
Status take(std::string_view& in, int cls, int tag, bool constructed, std::string_view what,
            Tlv& out) {
  if (in.empty()) return malformed(what, "missing");
  if (const char* why = der::next_tlv(in, out)) return malformed(what, why);
  if (out.cls != cls || out.tag != tag || out.constructed != constructed) {
    return malformed(what, "unexpected tag");
  }
  return ok_status();
}

// Whether the next TLV of `in` is [tag] constructed (context-specific).
bool next_is_context(std::string_view in, int tag) {
  Tlv t;
  return !in.empty() && der::next_tlv(in, t) == nullptr && t.cls == V_ASN1_CONTEXT_SPECIFIC &&
         t.tag == tag && t.constructed;
}

std::optional<Hash> hash_of(std::string_view oid) {
  if (oid == kOidSha1) return Hash::kSha1;
  if (oid == kOidSha256) return Hash::kSha256;
  if (oid == kOidSha384) return Hash::kSha384;
  if (oid == kOidSha512) return Hash::kSha512;
  return std::nullopt;
}

Status read_cert_id(std::string_view& list, CertId& id) {
  Tlv request;
  RETURN_IF_ERROR(take(list, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "Request", request));
  std::string_view r = request.content;
  Tlv cert_id;
  RETURN_IF_ERROR(take(r, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "CertID", cert_id));
  // singleRequestExtensions [0] may follow; nothing in them is acted on.
  if (!r.empty() && !next_is_context(r, 0)) return malformed("Request", "unexpected field");
  id.whole = cert_id.whole;
  std::string_view c = cert_id.content;
  Tlv alg;
  Tlv oid;
  Tlv name_hash;
  Tlv key_hash;
  Tlv serial;
  RETURN_IF_ERROR(take(c, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "hashAlgorithm", alg));
  std::string_view a = alg.content;
  RETURN_IF_ERROR(take(a, V_ASN1_UNIVERSAL, V_ASN1_OBJECT, false, "hashAlgorithm", oid));
  RETURN_IF_ERROR(
      take(c, V_ASN1_UNIVERSAL, V_ASN1_OCTET_STRING, false, "issuerNameHash", name_hash));
  RETURN_IF_ERROR(take(c, V_ASN1_UNIVERSAL, V_ASN1_OCTET_STRING, false, "issuerKeyHash", key_hash));
  RETURN_IF_ERROR(take(c, V_ASN1_UNIVERSAL, V_ASN1_INTEGER, false, "serialNumber", serial));
  if (!c.empty()) return malformed("CertID", "trailing bytes");
  if (serial.content.empty()) return malformed("serialNumber", "empty");
  id.hash = hash_of(oid.content);
  id.issuer_name_hash = name_hash.content;
  id.issuer_key_hash = key_hash.content;
  id.serial = serial.content;
  return ok_status();
}

// Finds the nonce in an Extensions TLV's content.
Status read_extensions(std::string_view exts, Request& out) {
  while (!exts.empty()) {
    Tlv ext;
    RETURN_IF_ERROR(take(exts, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "Extension", ext));
    std::string_view e = ext.content;
    Tlv oid;
    RETURN_IF_ERROR(take(e, V_ASN1_UNIVERSAL, V_ASN1_OBJECT, false, "extnID", oid));
    if (oid.content != kOidNonce) continue;
    if (!out.nonce_extension.empty()) return malformed("nonce", "given twice");
    Tlv value;
    if (!e.empty() && e.front() == static_cast<char>(V_ASN1_BOOLEAN)) {
      RETURN_IF_ERROR(take(e, V_ASN1_UNIVERSAL, V_ASN1_BOOLEAN, false, "critical", value));
    }
    RETURN_IF_ERROR(take(e, V_ASN1_UNIVERSAL, V_ASN1_OCTET_STRING, false, "extnValue", value));
    if (!e.empty()) return malformed("Extension", "trailing bytes");
    // RFC 8954: the value is an OCTET STRING of 1 to 32 octets. Older clients (OpenSSL,
    // GnuTLS) wrap their random bytes so, too.
    std::string_view v = value.content;
    Tlv inner;
    RETURN_IF_ERROR(take(v, V_ASN1_UNIVERSAL, V_ASN1_OCTET_STRING, false, "nonce", inner));
    if (!v.empty()) return malformed("nonce", "trailing bytes");
    if (inner.content.empty() || inner.content.size() > kMaxNonceBytes) {
      return malformed("nonce", fmt::format("{} octets (1 to {} are taken)", inner.content.size(),
                                            kMaxNonceBytes));
    }
    out.nonce_extension = ext.whole;
  }
  return ok_status();
}

void put_framed(std::string& out, unsigned char identifier, std::string_view content) {
  der::append_framed(out, identifier, content);
}

std::string generalized_time(TimePoint t) {
  char buf[der::kMaxTimeSize];
  const std::size_t n = der::put_time(t, buf, /*generalized=*/true);
  return std::string(buf, n);
}

}  // namespace

Result<Request> parse_request(std::string_view der) {
  Request out;
  std::string_view in = der;
  Tlv outer;
  RETURN_IF_ERROR(take(in, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "OCSPRequest", outer));
  if (!in.empty()) return fail(malformed("OCSPRequest", "trailing bytes"));
  std::string_view body = outer.content;
  Tlv tbs;
  RETURN_IF_ERROR(take(body, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "tbsRequest", tbs));
  // optionalSignature [0]: read past (see ocsp.h).
  if (!body.empty() && !next_is_context(body, 0)) {
    return fail(malformed("OCSPRequest", "unexpected field"));
  }
  std::string_view t = tbs.content;
  Tlv field;
  if (next_is_context(t, 0)) {  // version [0] EXPLICIT: v1 (0) is the only one
    RETURN_IF_ERROR(take(t, V_ASN1_CONTEXT_SPECIFIC, 0, true, "version", field));
    std::string_view v = field.content;
    Tlv version;
    RETURN_IF_ERROR(take(v, V_ASN1_UNIVERSAL, V_ASN1_INTEGER, false, "version", version));
    if (version.content != std::string_view("\x00", 1) || !v.empty()) {
      return fail(malformed("version", "not v1"));
    }
  }
  if (next_is_context(t, 1)) {  // requestorName [1]
    RETURN_IF_ERROR(take(t, V_ASN1_CONTEXT_SPECIFIC, 1, true, "requestorName", field));
  }
  Tlv list;
  RETURN_IF_ERROR(take(t, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "requestList", list));
  std::string_view items = list.content;
  while (!items.empty()) {
    if (out.ids.size() == kMaxCertIds) {
      return fail(malformed("requestList", fmt::format("more than {} requests", kMaxCertIds)));
    }
    RETURN_IF_ERROR(read_cert_id(items, out.ids.emplace_back()));
  }
  if (out.ids.empty()) return fail(malformed("requestList", "empty"));
  if (!t.empty()) {  // requestExtensions [2] EXPLICIT Extensions
    RETURN_IF_ERROR(take(t, V_ASN1_CONTEXT_SPECIFIC, 2, true, "requestExtensions", field));
    if (!t.empty()) return fail(malformed("tbsRequest", "trailing bytes"));
    std::string_view e = field.content;
    Tlv exts;
    RETURN_IF_ERROR(take(e, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "Extensions", exts));
    if (!e.empty()) return fail(malformed("requestExtensions", "trailing bytes"));
    RETURN_IF_ERROR(read_extensions(exts.content, out));
  }
  return out;
}

IssuerMatch::IssuerMatch(const Certificate& issuer) {
  unsigned char* name = nullptr;
  const int name_len = i2d_X509_NAME(const_cast<X509_NAME*>(issuer.subject()), &name);
  const std::string name_der =
      name_len > 0 ? std::string(reinterpret_cast<const char*>(name), name_len) : std::string();
  OPENSSL_free(name);
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuer.x509());
  const std::string key_bits = key ? std::string(reinterpret_cast<const char*>(key->data),
                                                 static_cast<std::size_t>(key->length))
                                   : std::string();
  for (Hash h : {Hash::kSha1, Hash::kSha256, Hash::kSha384, Hash::kSha512}) {
    hashes_.push_back({h, digest(h, name_der), digest(h, key_bits)});
  }
}

bool IssuerMatch::matches(const CertId& id) const {
  if (!id.hash) return false;
  for (const Hashes& h : hashes_) {
    if (h.hash == *id.hash) return id.issuer_name_hash == h.name && id.issuer_key_hash == h.key;
  }
  return false;
}

Result<ResponseSigner> ResponseSigner::create(const Certificate& certificate, const Key& key,
                                              Hash hash, bool include_certificate) {
  // Checked here once, so that sign() fails only on the token's trouble.
  ASSIGN_OR_RETURN(DerSigner probe, DerSigner::start(key.evp(), evp_md(hash), "OCSP response"));
  ResponseSigner s;
  s.key_ = key;
  s.md_ = evp_md(hash);
  if (s.signs_in_process()) s.prepared_ = std::make_shared<const DerSigner>(std::move(probe));
  // responderID byName [1] EXPLICIT Name: GnuTLS finds a signer that is not in the
  // response's certs by name only (gnutls_ocsp_resp_verify), and OpenSSL either way.
  unsigned char* name = nullptr;
  const int name_len = i2d_X509_NAME(const_cast<X509_NAME*>(certificate.subject()), &name);
  if (name_len <= 0) return fail(invalid_argument("OCSP responder certificate without a subject"));
  put_framed(
      s.responder_id_, kContext1,
      std::string_view(reinterpret_cast<const char*>(name), static_cast<std::size_t>(name_len)));
  OPENSSL_free(name);
  if (include_certificate) {
    std::string seq;
    put_framed(seq, der::kSequence, certificate.der());
    put_framed(s.certs_, der::kContext0, seq);
  }
  return s;
}

Result<std::string> ResponseSigner::sign(std::span<const SingleStatus> statuses,
                                         TimePoint produced_at,
                                         std::string_view nonce_extension) const {
  if (!der::time_in_range(produced_at)) return fail(invalid_argument("OCSP time out of range"));
  std::string responses;
  std::string single;
  std::string item;
  for (const SingleStatus& s : statuses) {
    if (!der::time_in_range(s.this_update) ||
        (s.next_update && !der::time_in_range(*s.next_update)) ||
        (s.status == CertStatus::kRevoked && !der::time_in_range(s.revoked_at))) {
      return fail(invalid_argument("OCSP time out of range"));
    }
    single.assign(s.cert_id);
    switch (s.status) {
      case CertStatus::kGood:
        single.append("\x80\x00", 2);  // good [0] IMPLICIT NULL
        break;
      case CertStatus::kUnknown:
        single.append("\x82\x00", 2);  // unknown [2] IMPLICIT NULL
        break;
      case CertStatus::kRevoked: {  // revoked [1] IMPLICIT RevokedInfo
        item = generalized_time(s.revoked_at);
        if (s.reason) {
          const char reason[] = {static_cast<char>(kEnumerated), 1, static_cast<char>(*s.reason)};
          put_framed(item, der::kContext0, std::string_view(reason, sizeof reason));
        }
        std::string revoked;
        put_framed(revoked, kContext1, item);
        single.append(revoked);
        break;
      }
    }
    single.append(generalized_time(s.this_update));
    if (s.next_update) put_framed(single, der::kContext0, generalized_time(*s.next_update));
    put_framed(responses, der::kSequence, single);
  }

  std::string data = responder_id_;  // version v1: DEFAULT, left out
  data.append(generalized_time(produced_at));
  put_framed(data, der::kSequence, responses);
  if (!nonce_extension.empty()) {
    std::string exts;
    put_framed(exts, der::kSequence, nonce_extension);
    put_framed(data, kContext1, exts);
  }

  ASSIGN_OR_RETURN(DerSigner signer, prepared_
                                         ? prepared_->copy()
                                         : DerSigner::start(key_->evp(), md_, "OCSP response"));
  const std::size_t tbs_len = der::header_size(data.size()) + data.size();
  const std::size_t room = signer.outer_room(tbs_len);
  std::string buf(room, '\0');
  put_framed(buf, der::kSequence, data);
  ASSIGN_OR_RETURN(std::string basic, signer.finish(std::move(buf), room));
  if (!certs_.empty()) {
    // The signed SEQUENCE gets the certs [0] as its fourth field: its header is redone.
    std::string_view rest = basic;
    Tlv whole;
    if (der::next_tlv(rest, whole) != nullptr) return fail(internal_error("OCSP response framing"));
    std::string content(whole.content);
    content.append(certs_);
    basic.clear();
    put_framed(basic, der::kSequence, content);
  }
  std::string bytes(kOidBasicTlv);
  put_framed(bytes, kOctetString, basic);
  std::string response_bytes;
  put_framed(response_bytes, der::kSequence, bytes);
  std::string body("\x0A\x01\x00", 3);  // responseStatus successful
  put_framed(body, der::kContext0, response_bytes);
  std::string out;
  out.reserve(body.size() + der::kMaxHeaderSize);
  put_framed(out, der::kSequence, body);
  return out;
}

std::string error_response(ResponseStatus status) {
  const char der[] = {0x30, 0x03, 0x0A, 0x01, static_cast<char>(status)};
  return std::string(der, sizeof der);
}

}  // namespace scepter::pki::ocsp
