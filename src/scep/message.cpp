#include "scep/message.h"

#include "pki/provider.h"

#include "common/status.h"

#include <charconv>
#include <memory>
#include <mutex>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/provider.h>

namespace scepter::scep {
namespace {

// Strict decimal: the wire values are short and never padded.
std::optional<int> parse_small_int(std::string_view text) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Registers an OID unless OpenSSL (or another module) already knows it.
AttributeType register_oid(const char* oid, const char* short_name, const char* long_name) {
  int nid = OBJ_txt2nid(oid);
  if (nid == NID_undef) nid = OBJ_create(oid, short_name, long_name);
  if (nid == NID_undef) {
    // Lost a race with code outside this module registering the same OID, or the
    // names are taken: register the bare OID.
    nid = OBJ_txt2nid(oid);
    if (nid == NID_undef) nid = OBJ_create(oid, nullptr, nullptr);
  }
  AttributeType type{nid, OBJ_nid2obj(nid)};
  ERR_clear_error();
  CA_ASSERT(type.obj != nullptr, "cannot register a SCEP attribute OID");
  return type;
}

}  // namespace

std::string_view message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kCertRep:
      return "CertRep";
    case MessageType::kRenewalReq:
      return "RenewalReq";
    case MessageType::kPkcsReq:
      return "PKCSReq";
    case MessageType::kCertPoll:
      return "CertPoll";
    case MessageType::kGetCert:
      return "GetCert";
    case MessageType::kGetCrl:
      return "GetCRL";
  }
  return "unknown";
}

std::string_view pki_status_name(PkiStatus status) {
  switch (status) {
    case PkiStatus::kSuccess:
      return "SUCCESS";
    case PkiStatus::kFailure:
      return "FAILURE";
    case PkiStatus::kPending:
      return "PENDING";
  }
  return "unknown";
}

std::string_view fail_info_name(FailInfo info) {
  switch (info) {
    case FailInfo::kBadAlg:
      return "badAlg";
    case FailInfo::kBadMessageCheck:
      return "badMessageCheck";
    case FailInfo::kBadRequest:
      return "badRequest";
    case FailInfo::kBadTime:
      return "badTime";
    case FailInfo::kBadCertId:
      return "badCertId";
  }
  return "unknown";
}

std::optional<MessageType> parse_message_type(std::string_view text) {
  auto v = parse_small_int(text);
  if (!v) return std::nullopt;
  switch (*v) {
    case 3:
    case 17:
    case 19:
    case 20:
    case 21:
    case 22:
      return static_cast<MessageType>(*v);
    default:
      return std::nullopt;
  }
}

std::optional<PkiStatus> parse_pki_status(std::string_view text) {
  auto v = parse_small_int(text);
  if (!v || (*v != 0 && *v != 2 && *v != 3)) return std::nullopt;
  return static_cast<PkiStatus>(*v);
}

std::optional<FailInfo> parse_fail_info(std::string_view text) {
  auto v = parse_small_int(text);
  if (!v || *v < 0 || *v > 4) return std::nullopt;
  return static_cast<FailInfo>(*v);
}

std::string_view digest_name(DigestAlg digest) {
  switch (digest) {
    case DigestAlg::kMd5:
      return "MD5";
    case DigestAlg::kSha1:
      return "SHA-1";
    case DigestAlg::kSha224:
      return "SHA-224";
    case DigestAlg::kSha256:
      return "SHA-256";
    case DigestAlg::kSha384:
      return "SHA-384";
    case DigestAlg::kSha512:
      return "SHA-512";
  }
  return "unknown";
}

std::string_view cipher_name(CipherAlg cipher) {
  switch (cipher) {
    case CipherAlg::kDesCbc:
      return "DES-CBC";
    case CipherAlg::kDes3Cbc:
      return "DES-EDE3-CBC";
    case CipherAlg::kAes128Cbc:
      return "AES-128-CBC";
    case CipherAlg::kAes192Cbc:
      return "AES-192-CBC";
    case CipherAlg::kAes256Cbc:
      return "AES-256-CBC";
  }
  return "unknown";
}

const EVP_MD* evp_md(DigestAlg digest) {
  switch (digest) {
    case DigestAlg::kMd5:
      return EVP_md5();
    case DigestAlg::kSha1:
      return EVP_sha1();
    case DigestAlg::kSha224:
      return EVP_sha224();
    case DigestAlg::kSha256:
      return EVP_sha256();
    case DigestAlg::kSha384:
      return EVP_sha384();
    case DigestAlg::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

const EVP_CIPHER* evp_cipher(CipherAlg cipher) {
  switch (cipher) {
    case CipherAlg::kDesCbc:
      return EVP_des_cbc();
    case CipherAlg::kDes3Cbc:
      return EVP_des_ede3_cbc();
    case CipherAlg::kAes128Cbc:
      return EVP_aes_128_cbc();
    case CipherAlg::kAes192Cbc:
      return EVP_aes_192_cbc();
    case CipherAlg::kAes256Cbc:
      return EVP_aes_256_cbc();
  }
  return EVP_aes_128_cbc();
}

std::optional<DigestAlg> digest_from_nid(int nid) {
  switch (nid) {
    case NID_md5:
      return DigestAlg::kMd5;
    case NID_sha1:
      return DigestAlg::kSha1;
    case NID_sha224:
      return DigestAlg::kSha224;
    case NID_sha256:
      return DigestAlg::kSha256;
    case NID_sha384:
      return DigestAlg::kSha384;
    case NID_sha512:
      return DigestAlg::kSha512;
    default:
      return std::nullopt;
  }
}

std::optional<CipherAlg> cipher_from_nid(int nid) {
  switch (nid) {
    case NID_des_cbc:
      return CipherAlg::kDesCbc;
    case NID_des_ede3_cbc:
      return CipherAlg::kDes3Cbc;
    case NID_aes_128_cbc:
      return CipherAlg::kAes128Cbc;
    case NID_aes_192_cbc:
      return CipherAlg::kAes192Cbc;
    case NID_aes_256_cbc:
      return CipherAlg::kAes256Cbc;
    default:
      return std::nullopt;
  }
}

bool des_available() {
  // One place loads OpenSSL's legacy provider, together with the default one: loading
  // legacy alone here once left the process without a DRBG ("unable to fetch drbg").
  return pki::load_legacy_provider();
}

const AttributeTypes& attribute_types() {
  static std::once_flag once;
  static AttributeTypes types;
  std::call_once(once, [] {
    types.message_type = register_oid("2.16.840.1.113733.1.9.2", "scepMessageType", "messageType");
    types.pki_status = register_oid("2.16.840.1.113733.1.9.3", "scepPkiStatus", "pkiStatus");
    types.fail_info = register_oid("2.16.840.1.113733.1.9.4", "scepFailInfo", "failInfo");
    types.sender_nonce = register_oid("2.16.840.1.113733.1.9.5", "scepSenderNonce", "senderNonce");
    types.recipient_nonce =
        register_oid("2.16.840.1.113733.1.9.6", "scepRecipientNonce", "recipientNonce");
    types.transaction_id =
        register_oid("2.16.840.1.113733.1.9.7", "scepTransactionID", "transactionID");
    types.fail_info_text = register_oid("1.3.6.1.5.5.7.24.1", "scepFailInfoText", "failInfoText");
  });
  return types;
}

}  // namespace scepter::scep
