#pragma once
// Server side of a SCEP PKIOperation: decoding the PKIMessage a client sends.
//
//   ContentInfo SignedData {                  -- DER or BER, PKCS#7 v1 / CMS
//     signerInfo (one) signed by the client's (often self-signed) certificate,
//       signed attributes: messageType, transactionID, senderNonce, …
//     content: EnvelopedData for the CA/RA  -> PKCS#10 | IssuerAndSubject |
//                                              IssuerAndSerialNumber
//   }
//
// The signature is checked against the signer certificate carried in the message,
// without any chain building: trust in that certificate (renewal, RA) is the CA's
// decision. Thread-safe: each call builds its own OpenSSL objects; the recipient key
// and certificate are only read and may be shared between threads.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/x509.h>
#include <tl/expected.hpp>

#include "common/status.h"
#include "pki/ptr.h"
#include "scep/message.h"

namespace scepter::scep {

// A PKIOperation request that passed every check of this layer.
struct DecodedRequest {
  MessageType type = MessageType::kPkcsReq;
  std::string transaction_id;                // opaque; echo it
  std::string sender_nonce;                  // raw bytes; the CertRep's recipientNonce
  DigestAlg digest = DigestAlg::kSha256;     // of the signerInfo; sign the CertRep with it
  CipherAlg cipher = CipherAlg::kAes128Cbc;  // of the envelope; encrypt the CertRep with it
  pki::Ptr<X509> signer;  // the certificate that signed the request (encrypt the reply to it)
  // The signingTime attribute, when the client sent one; the CA may answer badTime.
  std::optional<std::time_t> signing_time;
  // False when the envelope's recipientInfo did not name `recipient_cert` but the key
  // still opened it (some clients get issuerAndSerialNumber wrong).
  bool recipient_matched = true;
  std::string payload;  // the decrypted content, DER

  // Parsed payload, by type:
  pki::Ptr<X509_REQ> csr;        // PKCSReq, RenewalReq
  pki::Ptr<X509_NAME> issuer;    // CertPoll, GetCert, GetCRL
  pki::Ptr<X509_NAME> subject;   // CertPoll
  pki::Ptr<ASN1_STRING> serial;  // GetCert, GetCRL (an ASN1_INTEGER)
};

// Why a request was refused, and what to answer.
struct DecodeError {
  Status status;  // kInvalidArgument for bad input; kInternal if OpenSSL itself failed
  FailInfo fail_info = FailInfo::kBadRequest;
  // True when enough was read (transactionID and senderNonce) to answer with a signed
  // CertRep FAILURE carrying `fail_info`; otherwise the HTTP layer answers 400.
  bool replyable = false;
  // Valid when replyable: what the FAILURE CertRep echoes.
  std::string transaction_id;
  std::string sender_nonce;
  DigestAlg digest = DigestAlg::kSha256;  // the request's digest, or SHA-256 if unknown
  std::optional<MessageType> type;        // when the messageType was understood
  pki::Ptr<X509> signer;                  // when the signer certificate was found
};

using DecodeResult = tl::expected<DecodedRequest, DecodeError>;

// Decodes and checks a PKIOperation message (the POST body, or decode_get_message()'s
// output). `recipient_key` opens the envelope (RSA, PKCS#1 v1.5 or OAEP key transport);
// `recipient_cert` is the certificate the client was meant to encrypt to (CA, or RA
// encryption certificate). Both are borrowed.
//
// failInfo by cause:
//   badAlg           digest or content-encryption algorithm not supported (the error
//                    names the OID), or DES without OpenSSL's legacy provider
//   badMessageCheck  signature or messageDigest wrong, signer certificate missing,
//                    envelope malformed or not decryptable with `recipient_key`
//   badRequest       unknown messageType, CertRep sent to the server, payload that is
//                    not what the messageType says
// Not replyable: bytes that are not a SignedData, not exactly one signerInfo, missing
// or malformed transactionID or senderNonce.
DecodeResult decode_pki_message(std::string_view der, EVP_PKEY* recipient_key,
                                X509* recipient_cert);

// The `message=` value of a GET PKIOperation -> DER. Tolerates what clients send:
// percent-escapes (%0A line breaks from IOS, %2B %2F %3D), '+' and '/' left raw
// (macOS), '+' turned into ' ' by a form decoder, CR/LF/TAB anywhere, the URL-safe
// alphabet ('-' '_'), and missing '=' padding. Works on the raw query value or on one
// the HTTP layer already percent-decoded. kInvalidArgument when it is not base64.
Result<std::string> decode_get_message(std::string_view query_value);

// DER -> a `message=` value: standard base64 without line breaks, with '+', '/' and
// '=' percent-escaped. decode_get_message() reads it back.
std::string encode_get_message(std::string_view der);

}  // namespace scepter::scep
