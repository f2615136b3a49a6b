#pragma once
// The vocabulary of SCEP (RFC 8894) PKIMessages: message types, pkiStatus, failInfo,
// the digest and content-encryption algorithms a message may use, and the OIDs of the
// SCEP signed attributes.
//
// Everything here is a pure function or a constant, safe to call from any thread. The
// SCEP attribute OIDs are registered with OpenSSL once, at first use.

#include <optional>
#include <string>
#include <string_view>

#include <openssl/asn1.h>
#include <openssl/evp.h>

namespace scepter::scep {

// messageType (2.16.840.1.113733.1.9.2), sent as decimal text in a PrintableString.
enum class MessageType {
  kCertRep = 3,
  kRenewalReq = 17,
  kPkcsReq = 19,
  kCertPoll = 20,  // GetCertInitial in older drafts
  kGetCert = 21,
  kGetCrl = 22,
};

// pkiStatus (…1.9.3), decimal text.
enum class PkiStatus {
  kSuccess = 0,
  kFailure = 2,
  kPending = 3,
};

// failInfo (…1.9.4), decimal text; only in a CertRep with pkiStatus FAILURE.
enum class FailInfo {
  kBadAlg = 0,           // unrecognized or unsupported algorithm
  kBadMessageCheck = 1,  // signature check failed, or the envelope cannot be opened
  kBadRequest = 2,       // transaction not permitted or not supported
  kBadTime = 3,          // signingTime too far from the server's time
  kBadCertId = 4,        // no certificate matches the criteria given
};

// "PKCSReq", "CertPoll", …; "unknown" for values outside the enum.
std::string_view message_type_name(MessageType type);
std::string_view pki_status_name(PkiStatus status);  // "SUCCESS", "FAILURE", "PENDING"
std::string_view fail_info_name(FailInfo info);      // "badAlg", "badMessageCheck", …

// Values as they travel on the wire: "19" -> kPkcsReq. nullopt for anything else,
// including leading zeros, signs and spaces.
std::optional<MessageType> parse_message_type(std::string_view text);
std::optional<PkiStatus> parse_pki_status(std::string_view text);
std::optional<FailInfo> parse_fail_info(std::string_view text);

// Digest of the signerInfo. MD5 only appears in requests from very old IOS images; it is
// accepted so that such a client gets an answer in its own digest.
enum class DigestAlg { kMd5, kSha1, kSha224, kSha256, kSha384, kSha512 };

// Content-encryption algorithm of the pkcsPKIEnvelope. The reply to a request is
// encrypted with the algorithm of the request. Whether DES is acceptable is policy
// for the caller; this layer only reports what the client used.
enum class CipherAlg { kDesCbc, kDes3Cbc, kAes128Cbc, kAes192Cbc, kAes256Cbc };

std::string_view digest_name(DigestAlg digest);  // "SHA-256", as in GetCACaps
std::string_view cipher_name(CipherAlg cipher);  // "AES-128-CBC"
// OpenSSL's objects for the algorithm. Never null; static, not to be freed.
const EVP_MD* evp_md(DigestAlg digest);
const EVP_CIPHER* evp_cipher(CipherAlg cipher);
// From the OpenSSL NID of an AlgorithmIdentifier; nullopt when SCEP has no use for it.
std::optional<DigestAlg> digest_from_nid(int nid);
std::optional<CipherAlg> cipher_from_nid(int nid);

// Single DES lives in OpenSSL 3's legacy provider. Loads it into the default library
// context (next to the default provider) the first time it is asked, for the life of
// the process; false when the module is not installed, in which case DES-CBC messages
// are refused with badAlg. Thread-safe. Threads still using DES must be joined before
// static destruction, which unloads it.
bool des_available();

// One SCEP attribute type, registered with OpenSSL (OBJ_create) on first use. Both
// members stay valid for the whole process. Code on the request path looks attributes
// up by `obj`: OpenSSL takes a process-wide lock to map the NID of an added OID.
struct AttributeType {
  int nid = 0;
  const ASN1_OBJECT* obj = nullptr;
};

struct AttributeTypes {
  AttributeType message_type;     // 2.16.840.1.113733.1.9.2  PrintableString
  AttributeType pki_status;       // 2.16.840.1.113733.1.9.3  PrintableString
  AttributeType fail_info;        // 2.16.840.1.113733.1.9.4  PrintableString
  AttributeType sender_nonce;     // 2.16.840.1.113733.1.9.5  OCTET STRING
  AttributeType recipient_nonce;  // 2.16.840.1.113733.1.9.6  OCTET STRING
  AttributeType transaction_id;   // 2.16.840.1.113733.1.9.7  PrintableString
  AttributeType fail_info_text;   // 1.3.6.1.5.5.7.24.1       UTF8String
};
// Thread-safe; registers the OIDs on the first call.
const AttributeTypes& attribute_types();

// Length of the senderNonce we generate; RFC 8894 nonces are 16 bytes.
inline constexpr size_t kNonceSize = 16;
// Longest nonce accepted from a client. Some clients send 8 or 20 bytes.
inline constexpr size_t kMaxNonceSize = 64;
// Longest transactionID accepted: it becomes a database key.
inline constexpr size_t kMaxTransactionIdSize = 128;

}  // namespace scepter::scep
