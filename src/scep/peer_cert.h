#pragma once
// The certificate of the other side of a SCEP exchange, as the server uses it: a
// request's signer certificate, to which a SUCCESS reply is encrypted (RFC 8894 3.3.2:
// KeyTransRecipientInfo with issuerAndSerialNumber). Kept as its bytes, its
// IssuerAndSerialNumber and its public key, so that it need not be an X509 object:
// request.cpp takes all three from the certificate's DER without decoding it whole.

#include <string>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::scep {

struct PeerCert {
  std::string der;                // the certificate, byte for byte
  std::string issuer_and_serial;  // DER IssuerAndSerialNumber
  pki::Ptr<EVP_PKEY> key;         // its public key

  PeerCert() = default;
  PeerCert(std::string der, std::string issuer_and_serial, pki::Ptr<EVP_PKEY> key);
  PeerCert(const PeerCert& other);
  PeerCert& operator=(const PeerCert& other);
  PeerCert(PeerCert&&) noexcept = default;
  PeerCert& operator=(PeerCert&&) noexcept = default;
  ~PeerCert() = default;

  explicit operator bool() const { return key != nullptr; }

  // From a parsed certificate (borrowed). kInvalidArgument when its key cannot be read.
  static Result<PeerCert> from_x509(X509* cert);
};

}  // namespace scepter::scep
