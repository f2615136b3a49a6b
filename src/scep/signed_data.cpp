#include "scep/signed_data.h"

#include <openssl/asn1.h>

#include "pki/crl_der.h"

namespace scepter::scep::detail {
namespace {

using pki::der::Tlv;

// id-signedData, 1.2.840.113549.1.7.2, as an OBJECT IDENTIFIER TLV.
constexpr std::string_view kSignedDataOid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 11);
constexpr unsigned char kSet = 0x31;

bool is(const Tlv& t, int cls, int tag, bool constructed) {
  return t.cls == cls && t.tag == tag && t.constructed == constructed;
}

// Reads the next TLV of `in` into `t` when it has the given class, tag and form.
bool take(std::string_view& in, Tlv& t, int cls, int tag, bool constructed) {
  std::string_view rest = in;
  if (pki::der::next_tlv(rest, t) != nullptr || !is(t, cls, tag, constructed)) return false;
  in = rest;
  return true;
}

bool take_universal(std::string_view& in, Tlv& t, int tag, bool constructed) {
  return take(in, t, V_ASN1_UNIVERSAL, tag, constructed);
}

// The OID TLV at the front of an AlgorithmIdentifier's content.
std::optional<std::string_view> algorithm_oid(const Tlv& alg) {
  std::string_view body = alg.content;
  Tlv oid;
  if (!take_universal(body, oid, V_ASN1_OBJECT, false)) return std::nullopt;
  return oid.whole;
}

struct SignerInfoFields {
  std::string_view sid_issuer;
  std::string_view sid_serial;
  std::string_view digest_oid;
  std::string_view signed_attrs;  // the [0] TLV, or empty
  bool has_unsigned_attrs = false;
};

// SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs OPTIONAL,
//   signatureAlgorithm, signature OCTET STRING, [1] unsignedAttrs OPTIONAL }
std::optional<SignerInfoFields> signer_info(const Tlv& si) {
  SignerInfoFields out;
  std::string_view body = si.content;
  Tlv version, sid, digest, attrs, sig_alg, sig, unsigned_attrs;
  if (!take_universal(body, version, V_ASN1_INTEGER, false)) return std::nullopt;
  if (take_universal(body, sid, V_ASN1_SEQUENCE, true)) {
    std::string_view ias = sid.content;
    Tlv issuer, serial;
    if (!take_universal(ias, issuer, V_ASN1_SEQUENCE, true) ||
        !take_universal(ias, serial, V_ASN1_INTEGER, false) || !ias.empty()) {
      return std::nullopt;
    }
    out.sid_issuer = issuer.whole;
    out.sid_serial = serial.whole;
  } else if (!take(body, sid, V_ASN1_CONTEXT_SPECIFIC, 0, false)) {
    return std::nullopt;  // neither IssuerAndSerialNumber nor [0] SubjectKeyIdentifier
  }
  if (!take_universal(body, digest, V_ASN1_SEQUENCE, true)) return std::nullopt;
  auto oid = algorithm_oid(digest);
  if (!oid) return std::nullopt;
  out.digest_oid = *oid;
  if (take(body, attrs, V_ASN1_CONTEXT_SPECIFIC, 0, true)) out.signed_attrs = attrs.whole;
  if (!take_universal(body, sig_alg, V_ASN1_SEQUENCE, true) ||
      !take_universal(body, sig, V_ASN1_OCTET_STRING, false)) {
    return std::nullopt;
  }
  out.has_unsigned_attrs = take(body, unsigned_attrs, V_ASN1_CONTEXT_SPECIFIC, 1, true);
  if (!body.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::optional<SignedDataSplit> split_signed_data(std::string_view der) {
  using pki::der::append_framed;
  // ContentInfo ::= SEQUENCE { contentType OID, [0] EXPLICIT SignedData }
  std::string_view in = der;
  Tlv info, type, explicit0, sd;
  if (!take_universal(in, info, V_ASN1_SEQUENCE, true) || !in.empty()) return std::nullopt;
  std::string_view body = info.content;
  if (!take_universal(body, type, V_ASN1_OBJECT, false) || type.whole != kSignedDataOid ||
      !take(body, explicit0, V_ASN1_CONTEXT_SPECIFIC, 0, true) || !body.empty()) {
    return std::nullopt;
  }
  std::string_view wrapped = explicit0.content;
  if (!take_universal(wrapped, sd, V_ASN1_SEQUENCE, true) || !wrapped.empty()) return std::nullopt;

  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo,
  //   [0] IMPLICIT certificates OPTIONAL, [1] IMPLICIT crls OPTIONAL, signerInfos SET }
  SignedDataSplit out;
  std::string_view fields = sd.content;
  Tlv version, digests, encap, certs, crls, infos;
  if (!take_universal(fields, version, V_ASN1_INTEGER, false) ||
      !take_universal(fields, digests, V_ASN1_SET, true) ||
      !take_universal(fields, encap, V_ASN1_SEQUENCE, true)) {
    return std::nullopt;
  }
  if (take(fields, certs, V_ASN1_CONTEXT_SPECIFIC, 0, true)) {
    std::string_view list = certs.content;
    while (!list.empty()) {
      Tlv cert;
      if (!take_universal(list, cert, V_ASN1_SEQUENCE, true)) return std::nullopt;
      out.certs.push_back(cert.whole);
    }
  }
  const bool has_crls = take(fields, crls, V_ASN1_CONTEXT_SPECIFIC, 1, true);
  if (!take_universal(fields, infos, V_ASN1_SET, true) || !fields.empty()) return std::nullopt;

  std::string_view si_list = infos.content;
  Tlv si;
  if (!take_universal(si_list, si, V_ASN1_SEQUENCE, true) || !si_list.empty()) return std::nullopt;
  auto signer = signer_info(si);
  if (!signer) return std::nullopt;
  out.sid_issuer = signer->sid_issuer;
  out.sid_serial = signer->sid_serial;
  out.has_unsigned_attrs = signer->has_unsigned_attrs;
  if (!signer->signed_attrs.empty()) {
    out.signed_attrs = signer->signed_attrs;
    out.signed_attrs[0] = static_cast<char>(kSet);  // [0] is a one-octet identifier
  }
  std::string_view digest_list = digests.content;
  Tlv alg;
  if (take_universal(digest_list, alg, V_ASN1_SEQUENCE, true) && digest_list.empty()) {
    auto oid = algorithm_oid(alg);
    out.digest_listed = oid && *oid == signer->digest_oid;
  }

  std::string signed_data(version.whole);
  signed_data += digests.whole;
  signed_data += encap.whole;
  if (has_crls) signed_data += crls.whole;
  signed_data += infos.whole;
  std::string sd_tlv;
  append_framed(sd_tlv, pki::der::kSequence, signed_data);
  std::string content(type.whole);
  append_framed(content, pki::der::kContext0, sd_tlv);
  append_framed(out.without_certs, pki::der::kSequence, content);
  return out;
}

std::optional<CertificateFields> certificate_fields(std::string_view der) {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  std::string_view in = der;
  Tlv cert, tbs, alg, sig;
  if (!take_universal(in, cert, V_ASN1_SEQUENCE, true) || !in.empty()) return std::nullopt;
  std::string_view body = cert.content;
  if (!take_universal(body, tbs, V_ASN1_SEQUENCE, true) ||
      !take_universal(body, alg, V_ASN1_SEQUENCE, true) ||
      !take_universal(body, sig, V_ASN1_BIT_STRING, false) || !body.empty()) {
    return std::nullopt;
  }
  CertificateFields out;
  std::string_view f = tbs.content;
  Tlv version, serial, sig_alg, issuer, validity, subject, spki, extra;
  (void)take(f, version, V_ASN1_CONTEXT_SPECIFIC, 0, true);
  if (!take_universal(f, serial, V_ASN1_INTEGER, false) ||
      !take_universal(f, sig_alg, V_ASN1_SEQUENCE, true) ||
      !take_universal(f, issuer, V_ASN1_SEQUENCE, true) ||
      !take_universal(f, validity, V_ASN1_SEQUENCE, true) ||
      !take_universal(f, subject, V_ASN1_SEQUENCE, true) ||
      !take_universal(f, spki, V_ASN1_SEQUENCE, true)) {
    return std::nullopt;
  }
  (void)take(f, extra, V_ASN1_CONTEXT_SPECIFIC, 1, false);  // issuerUniqueID
  (void)take(f, extra, V_ASN1_CONTEXT_SPECIFIC, 2, false);  // subjectUniqueID
  (void)take(f, extra, V_ASN1_CONTEXT_SPECIFIC, 3, true);   // extensions
  if (!f.empty()) return std::nullopt;
  out.issuer = issuer.whole;
  out.serial = serial.whole;
  out.spki = spki.whole;
  return out;
}

std::string issuer_and_serial_der(std::string_view issuer, std::string_view serial) {
  std::string content(issuer);
  content += serial;
  std::string out;
  pki::der::append_framed(out, pki::der::kSequence, content);
  return out;
}

}  // namespace scepter::scep::detail
