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
// decision.
//
// One unauthenticated message costs at most one private-key operation and gives no
// oracle on what is inside the envelope:
//   - Decoding runs in two steps. PendingPkiMessage::parse() does everything that needs
//     no key: ASN.1 parsing, the echo fields, the algorithms, the signer's key (RSA,
//     1024..4096 bits, odd e with 1 < e <= 2^32, else badAlg) and the envelope's shape:
//     one to four RecipientInfos (one is the rule; clients such as micromdm's scepclient
//     encrypt to every certificate of a chain), all KeyTransRecipientInfos.
//     addressed_to() then tells, without cryptography, whether exactly one rid names a
//     given certificate
//     (issuerAndSerialNumber, or subjectKeyIdentifier equal to the certificate's SKI
//     extension), so that a caller serving several CAs picks the one named. open()
//     checks the encryptedKey length against the key's modulus, verifies the signature
//     (one public-key operation, with a signer key already bounded) and only then
//     decrypts: one RSA private-key operation.
//   - Every refusal from the envelope on — malformed envelope, other recipient count or
//     type, rid naming another certificate, wrong encryptedKey length, decryption
//     failure, payload that does not parse as what the messageType says — is
//     badMessageCheck with the same text, kEnvelopeFailureText. The envelope is opened
//     by CMS_decrypt given our certificate, without CMS_DEBUG_DECRYPT: a bad PKCS#1
//     v1.5 padding leaves OpenSSL with a random content key instead of an error, so bad
//     padding and good padding with a wrong key both end in garbage, refused the same
//     way (Bleichenbacher's attack needs them told apart). The reason goes to
//     DecodeError::detail, for the trace only.
//   - A client that names another certificate than ours in the recipientInfo (a CA
//     certificate it cached before ours was re-issued, the certificate of another CA
//     or RA) is refused, even when our key might open the envelope: trying our key on
//     an envelope addressed to someone else is what this layer must not do, and the
//     client's remedy is to fetch GetCACert again. The trace names the recipient it
//     used, so the operator can tell.
//
// How the signer certificate is read. A DER message with one certificate, its signer
// named by issuerAndSerialNumber and signed with RSA PKCS#1 v1.5 over single-valued
// signed attributes (what SCEP clients send) is taken apart by signed_data.h: OpenSSL
// parses the message without the certificate, the signer's key is imported from the
// certificate's SubjectPublicKeyInfo, and the signature is checked over the signedAttrs
// as received. Anything else, and any message that fails a check on that path, is
// decoded by OpenSSL alone (d2i_CMS_ContentInfo, CMS_verify), which gives every refusal
// its answer. The one difference: on the first path the certificate is taken as
// received and its fields are walked but not decoded, so a signer certificate OpenSSL
// would refuse for what is inside a name, a time or an extension is accepted there, and
// one whose outer signature fields OpenSSL would encode differently keeps the bytes it
// came with. The certificate proves nothing to the CA unless it is byte for byte one the
// CA issued (ca/server_requests.cpp), and the
// reply's envelope uses only its issuer, serial number and key.
//
// Thread-safe: each call builds its own OpenSSL objects; the recipient key and
// certificate are only read and may be shared between threads.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/cms.h>
#include <openssl/x509.h>
#include <tl/expected.hpp>

#include "common/status.h"
#include "pki/csr.h"
#include "pki/ptr.h"
#include "scep/message.h"
#include "scep/peer_cert.h"

namespace scepter::scep {

// Largest PKIOperation message accepted: the POST body, or the DER of a GET `message=`.
// Callers refuse larger ones before any parsing (scepterd answers HTTP 413).
inline constexpr std::size_t kMaxPkiMessageSize = 64 * 1024;

// failInfoText of every badMessageCheck refusal from the pkcsPKIEnvelope on (see above),
// and of a CA answer with failInfo badMessageCheck: nothing in it depends on why.
inline constexpr char kEnvelopeFailureText[] =
    "The message cannot be decrypted or does not hold a valid request.";

// A PKIOperation request that passed every check of this layer.
struct DecodedRequest {
  MessageType type = MessageType::kPkcsReq;
  std::string transaction_id;                // opaque, printable ASCII; echo it
  std::string sender_nonce;                  // raw bytes; the CertRep's recipientNonce
  DigestAlg digest = DigestAlg::kSha256;     // of the signerInfo (ScepService signs its
                                             // reply with SHA-256 at least)
  CipherAlg cipher = CipherAlg::kAes128Cbc;  // of the envelope; encrypt the CertRep with it
  // The certificate that signed the request (encrypt the reply to it). Its key is RSA,
  // 1024..4096 bits.
  PeerCert signer;
  // The signingTime attribute, when the client sent one; the CA may answer badTime.
  std::optional<std::time_t> signing_time;
  std::string payload;  // the decrypted content, DER

  // Parsed payload, by type:
  // PKCSReq, RenewalReq: read as the CA reads every request (pki::Csr::parse), once;
  // the signature is not checked here (an RA of ours may have re-signed it).
  std::optional<pki::Csr> csr;
  pki::Ptr<X509_NAME> issuer;    // CertPoll, GetCert, GetCRL
  pki::Ptr<X509_NAME> subject;   // CertPoll
  pki::Ptr<ASN1_STRING> serial;  // GetCert, GetCRL (an ASN1_INTEGER)
};

// Why a request was refused, and what to answer.
struct DecodeError {
  // kInvalidArgument for bad input; kInternal if OpenSSL itself failed. The message is
  // what the FAILURE's failInfoText may say (kEnvelopeFailureText for every envelope
  // refusal); it quotes nothing from the message but OIDs.
  Status status;
  // The reason, for the trace only (never for the client); printable ASCII. Empty when
  // status says it all.
  std::string detail;
  FailInfo fail_info = FailInfo::kBadRequest;
  // True when enough was read (transactionID and senderNonce) to answer with a signed
  // CertRep FAILURE carrying `fail_info`; otherwise the HTTP layer answers 400.
  bool replyable = false;
  // Valid when replyable: what the FAILURE CertRep echoes.
  std::string transaction_id;
  std::string sender_nonce;
  DigestAlg digest = DigestAlg::kSha256;  // the request's digest, or SHA-256 if unknown
  std::optional<MessageType> type;        // when the messageType was read (after the
                                          // signature was verified)
  PeerCert signer;                        // when the signer certificate was found
};

using DecodeResult = tl::expected<DecodedRequest, DecodeError>;

// A PKIMessage parsed and checked as far as it can be without a key (the first step
// above). Movable, not copyable; owns its OpenSSL objects.
class PendingPkiMessage {
 public:
  // failInfo by cause:
  //   badAlg           digest or content-encryption algorithm not supported (the error
  //                    names the OID), DES without OpenSSL's legacy provider, or a
  //                    signer key that is not RSA of 1024..4096 bits with an odd
  //                    exponent 1 < e <= 2^32
  //   badMessageCheck  signer certificate missing; envelope missing, malformed, with
  //                    other than one KeyTransRecipientInfo (kEnvelopeFailureText)
  // Not replyable: bytes that are not a SignedData, not exactly one signerInfo, missing
  // or malformed transactionID or senderNonce. `der` is copied where needed; the caller
  // caps its size (kMaxPkiMessageSize).
  // `openssl_only` skips the first path above (for tests that compare the two).
  static tl::expected<PendingPkiMessage, DecodeError> parse(std::string_view der,
                                                            bool openssl_only = false);

  PendingPkiMessage(PendingPkiMessage&&) noexcept;
  PendingPkiMessage& operator=(PendingPkiMessage&&) noexcept;
  ~PendingPkiMessage();

  // Whether the envelope's recipientInfo names `cert` (borrowed): its
  // issuerAndSerialNumber, or the value of its subjectKeyIdentifier extension. No
  // cryptography.
  bool addressed_to(X509* cert) const;
  // The index of the one recipientInfo naming `cert`; nullopt when none does, or more
  // than one.
  std::optional<std::size_t> recipient_for(X509* cert) const;
  // The recipientInfo's identifier, printable, for the trace: "issuer <DN> serial <hex>"
  // or "subjectKeyIdentifier <hex>".
  std::string recipient_text() const;

  // The answer to a message addressed to none of the caller's certificates:
  // badMessageCheck with kEnvelopeFailureText, replyable.
  DecodeError not_addressed_to_us() const;

  // The second step. Refuses (badMessageCheck, kEnvelopeFailureText) unless the
  // envelope is addressed_to(recipient_cert) and its encryptedKey is as long as the
  // RSA modulus of `recipient_key`; then verifies the signature (badMessageCheck),
  // reads the messageType (badRequest when unknown or CertRep), decrypts with one
  // private-key operation and parses the payload (any failure: badMessageCheck,
  // kEnvelopeFailureText). Both pointers are borrowed. kInternal (badMessageCheck) when
  // `recipient_key` is null or not RSA.
  DecodeResult open(EVP_PKEY* recipient_key, X509* recipient_cert) &&;

  const std::string& transaction_id() const;

  struct State;  // opaque; defined in request.cpp
  explicit PendingPkiMessage(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

// parse() then open(): a PKIOperation message for one recipient certificate.
DecodeResult decode_pki_message(std::string_view der, EVP_PKEY* recipient_key,
                                X509* recipient_cert);

// How many envelope decryptions (each one RSA private-key operation) this process has
// attempted. Thread-safe; for tests and metrics.
std::uint64_t envelope_decryptions();

// How many PKIMessages this process has had OpenSSL decode whole, signer certificate
// included (the second path in "How the signer certificate is read" above). Thread-safe;
// for tests and metrics.
std::uint64_t openssl_decodes();

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
