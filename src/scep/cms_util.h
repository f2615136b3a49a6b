#pragma once
// CMS plumbing shared by the SCEP codecs: building SignedData with SCEP signed
// attributes, EnvelopedData, degenerate certs-only SignedData, and reading signed
// attributes back. Internal to scep/; not part of its public interface.
//
// Every function builds its own OpenSSL objects, so all are safe to call from several
// threads at once with shared certificates and keys.

#include <cstddef>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/cms.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "common/status.h"
#include "pki/ptr.h"
#include "scep/message.h"
#include "scep/peer_cert.h"

namespace scepter::scep::detail {

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackFree>;

struct CrlStackFree {
  void operator()(STACK_OF(X509_CRL) * s) const { sk_X509_CRL_pop_free(s, X509_CRL_free); }
};
using CrlStack = std::unique_ptr<STACK_OF(X509_CRL), CrlStackFree>;

struct IssuerSerialFree {
  void operator()(PKCS7_ISSUER_AND_SERIAL* p) const { PKCS7_ISSUER_AND_SERIAL_free(p); }
};
using IssuerSerialPtr = std::unique_ptr<PKCS7_ISSUER_AND_SERIAL, IssuerSerialFree>;

// The bytes of an ASN1_STRING (OCTET STRING, PrintableString, …) without copying.
std::string_view view(const ASN1_STRING* s);

// A read-only memory BIO over `bytes`; `bytes` must outlive it.
Result<pki::Ptr<BIO>> read_bio(std::string_view bytes);
// Everything written to a memory BIO.
std::string bio_bytes(BIO* bio);

// DER or BER ContentInfo -> CMS. Rejects trailing bytes. kInvalidArgument on bad input.
Result<pki::Ptr<CMS_ContentInfo>> parse_cms(std::string_view der);
Result<std::string> cms_der(CMS_ContentInfo* cms);

// A signed attribute to add: `type` is V_ASN1_PRINTABLESTRING, V_ASN1_OCTET_STRING or
// V_ASN1_UTF8STRING and `value` its raw content octets.
struct Attribute {
  const ASN1_OBJECT* obj;  // AttributeTypes member's obj
  int type;
  std::string value;
};

struct SignSpec {
  X509* cert = nullptr;     // borrowed
  EVP_PKEY* key = nullptr;  // borrowed
  DigestAlg digest = DigestAlg::kSha256;
  bool include_cert = true;  // put `cert` into SignedData.certificates
  // signingTime to put into the signed attributes; the system clock when unset.
  std::optional<std::time_t> signing_time;
  // Emit indefinite-length BER, as OpenSSL's streaming encoder does (sscep, certmonger).
  bool ber = false;
  // Build it with OpenSSL's CMS code even where sign_data() writes the DER itself (for
  // tests that compare the two).
  bool through_cms = false;
};

// SignedData over `content` (eContentType id-data, content embedded) with one
// signerInfo carrying contentType, messageDigest, signingTime and `attributes`. For RSA
// keys the signatureAlgorithm is rsaEncryption (PKCS#1 v1.5), as SCEP clients expect.
// DER for an RSA key is written directly, byte for byte what CMS_final writes
// (cms_sign_test.cpp); BER and other keys go through OpenSSL's CMS code. An attribute's
// `type` is then its one-octet universal tag.
Result<std::string> sign_data(std::string_view content, const SignSpec& spec,
                              const std::vector<Attribute>& attributes);

// EnvelopedData of `content` for one RSA recipient (KeyTransRecipientInfo with
// issuerAndSerialNumber, PKCS#1 v1.5 key transport). kInvalidArgument when the
// cipher is unavailable (single DES without the legacy provider). DER is written
// directly, as CMS_encrypt writes it (cms_envelope_test.cpp holds the two together);
// BER goes through OpenSSL's streaming encoder.
Result<std::string> envelope(std::string_view content, X509* recipient, CipherAlg cipher,
                             bool ber = false);
// The same, DER, for a recipient whose key is RSA, from what PeerCert keeps of its
// certificate. kInvalidArgument for another key.
Result<std::string> envelope(std::string_view content, const PeerCert& recipient, CipherAlg cipher);

// Degenerate certs-only SignedData (version 1, no content, no signers), the shape of
// `openssl crl2pkcs7`, from certificates and CRLs as DER (each kept byte for byte, in the
// order given). kInvalidArgument when one is not a single DER SEQUENCE.
Result<std::string> degenerate_der(const std::vector<std::string_view>& certs,
                                   const std::vector<std::string_view>& crls);
// The same from OpenSSL objects.
Result<std::string> degenerate(const std::vector<X509*>& certs, const std::vector<X509_CRL*>& crls);

// The content-encryption algorithm of a DER/BER EnvelopedData (CMS or PKCS#7). CMS has
// no accessor for it. kInvalidArgument when `der` is not an EnvelopedData.
struct EnvelopeCipher {
  std::optional<CipherAlg> cipher;  // nullopt: not one SCEP uses
  std::string oid;                  // dotted, for messages
};
Result<EnvelopeCipher> envelope_cipher(std::string_view der);

// What an EnvelopedData ContentInfo (DER or BER) says before any key is used, read with
// ASN.1 templates of our own: CMS has no accessor for a RecipientInfo's encryptedKey.
// Parsing is linear in the input; nothing is decrypted. kInvalidArgument when `der` is
// not a ContentInfo holding an EnvelopedData.
struct EnvelopeLayout {
  EnvelopeCipher cipher;
  std::size_t recipient_count = 0;
  // The encryptedKey size of each RecipientInfo, in order, when there are at most
  // kMaxLaidOutRecipients and every one is a KeyTransRecipientInfo (the untagged SEQUENCE
  // of the RecipientInfo CHOICE) that parses; empty otherwise.
  std::vector<std::size_t> encrypted_key_sizes;
};
inline constexpr std::size_t kMaxLaidOutRecipients = 4;
Result<EnvelopeLayout> envelope_layout(std::string_view der);

// `text` made safe for a log line or a terminal: printable ASCII is kept, a backslash and
// every other byte become \xHH escapes, and input past `max` bytes is cut and marked
// with "...".
std::string printable_text(std::string_view text, std::size_t max = 128);

// `n` bytes from the CSPRNG.
Result<std::string> random_bytes(size_t n);

// Single-valued signed attribute of type `attr`. Absent, repeated, multi-valued or of
// another ASN.1 type -> nullopt. string_attr accepts the string types clients use
// (PrintableString, UTF8String, IA5String, T61String); octet_attr only OCTET STRING.
std::optional<std::string> string_attr(CMS_SignerInfo* si, const AttributeType& attr);
std::optional<std::string> octet_attr(CMS_SignerInfo* si, const AttributeType& attr);

// The signingTime signed attribute; nullopt when absent or malformed.
std::optional<std::time_t> signing_time(CMS_SignerInfo* si);

// kInvalidArgument when the cipher cannot be used in this process.
Status cipher_ready(CipherAlg cipher);

// Dotted text of an OID, for error messages.
std::string oid_text(const ASN1_OBJECT* obj);

}  // namespace scepter::scep::detail
