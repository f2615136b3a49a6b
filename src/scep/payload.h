#pragma once
// The small ASN.1 bodies SCEP puts inside a pkcsPKIEnvelope besides PKCS#10:
//
//   IssuerAndSubject      ::= SEQUENCE { issuer Name, subject Name }        -- CertPoll
//   IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber INTEGER } -- GetCert, GetCRL
//
// Decoders accept DER and BER and fail with kInvalidArgument on anything else. The
// functions are pure and thread-safe.

#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::scep {

struct IssuerAndSubject {
  pki::Ptr<X509_NAME> issuer;
  pki::Ptr<X509_NAME> subject;
};

struct IssuerAndSerial {
  pki::Ptr<X509_NAME> issuer;
  pki::Ptr<ASN1_STRING> serial;  // an ASN1_INTEGER
};

// The inputs are borrowed and copied into the encoding.
Result<std::string> encode_issuer_and_subject(const X509_NAME* issuer, const X509_NAME* subject);
Result<std::string> encode_issuer_and_serial(const X509_NAME* issuer, const ASN1_INTEGER* serial);

Result<IssuerAndSubject> decode_issuer_and_subject(std::string_view der);
Result<IssuerAndSerial> decode_issuer_and_serial(std::string_view der);

// The PKCS#10 request inside a PKCSReq or RenewalReq. The signature of the CSR is not
// checked here; that is the CA's business.
Result<pki::Ptr<X509_REQ>> decode_pkcs10(std::string_view der);

}  // namespace scepter::scep
