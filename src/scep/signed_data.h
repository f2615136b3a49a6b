#pragma once
// A DER PKIMessage taken apart with the der:: helpers, so that the server reads a request
// without OpenSSL decoding the public key of the signer certificate it carries:
// d2i_CMS_ContentInfo decodes every certificate of a SignedData, and OpenSSL 3.0 decodes a
// key through its provider decoders at about a third of the cost of an RSA signature
// (docs/performance.md). request.cpp gives OpenSSL the message framed again without its
// certificates, takes the signer's issuer, serial number and key from the certificate's
// DER, and checks the signature itself; whatever this reader does not take (BER,
// indefinite lengths, several certificates, a signer named by subjectKeyIdentifier, ...)
// goes the way it always went, through OpenSSL alone.
//
// Internal to scep/. Pure functions over untrusted bytes: they never fail loudly, they
// answer nullopt, and the views they return point into the caller's buffer.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scepter::scep::detail {

// A ContentInfo holding a SignedData with exactly one SignerInfo, in DER (definite,
// minimal lengths at every level walked here).
struct SignedDataSplit {
  // The same ContentInfo framed again without the `certificates` field, every other
  // field byte for byte.
  std::string without_certs;
  // The certificates field, one TLV per certificate as received, in order (every one a
  // plain Certificate SEQUENCE, not another CertificateChoices alternative).
  std::vector<std::string_view> certs;
  // The SignerInfo's sid when it is an IssuerAndSerialNumber: the issuer Name TLV and
  // the serialNumber INTEGER TLV. Empty views for a subjectKeyIdentifier.
  std::string_view sid_issuer;
  std::string_view sid_serial;
  // Whether digestAlgorithms holds exactly one AlgorithmIdentifier, with the OID of the
  // SignerInfo's digestAlgorithm.
  bool digest_listed = false;
  // The signedAttrs as they are signed (RFC 5652 5.4): the [0] IMPLICIT TLV as received,
  // its identifier octet made SET OF (0x31). Empty when the SignerInfo has none.
  std::string signed_attrs;
  bool has_unsigned_attrs = false;
};
std::optional<SignedDataSplit> split_signed_data(std::string_view der);

// The fields of a DER Certificate a SCEP server needs without parsing it: TLVs of the
// issuer Name, the serialNumber INTEGER and the SubjectPublicKeyInfo. The TBSCertificate
// is walked field by field (RFC 5280 4.1: version, serial, signature, issuer, validity,
// subject, subjectPublicKeyInfo, the optional unique IDs and extensions, nothing else);
// the values inside the fields are not decoded.
struct CertificateFields {
  std::string_view issuer;
  std::string_view serial;
  std::string_view spki;
};
std::optional<CertificateFields> certificate_fields(std::string_view der);

// DER IssuerAndSerialNumber from an issuer Name TLV and a serialNumber INTEGER TLV.
std::string issuer_and_serial_der(std::string_view issuer, std::string_view serial);

}  // namespace scepter::scep::detail
