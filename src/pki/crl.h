#pragma once
// Certificate revocation lists (RFC 5280 section 5), built fast enough for a CA with a
// million revoked serials.
//
// CrlBuilder holds the revoked entries of one issuer as finished DER, so revoking one more
// certificate and re-signing the CRL costs a copy and a hash of the entry bytes, not a
// re-encoding of every entry. The CA keeps one CrlBuilder per issuer key, refilled at
// start-up from its database (add()) or from the last `<label>.crl` (load()).
//
// The CRL it writes is a v2 CRL: version, signature, issuer (the issuer certificate's
// subject, byte for byte), thisUpdate, nextUpdate (UTCTime through 2049, GeneralizedTime
// from 2050, as RFC 5280 4.1.2.5 says), revokedCertificates (left out when empty; each
// entry is serial + revocationDate, as IOS writes them, plus the non-critical reasonCode
// entry extension when a reason other than unspecified was given), and the crlExtensions
// authorityKeyIdentifier (keyid) and cRLNumber. IOS itself writes v1 CRLs without
// extensions; v2 with AKI and a CRL number is what current relying parties expect and what
// `openssl crl -verify` and strongSwan check.
//
// Serials are Scepter's (serial_number.h): a sequence number, with 64 bits of entropy
// after it when a weak hash was in force. The builder indexes entries by sequence number;
// a CRL holding a negative serial or one not below 2^128 is rejected by load() and
// parse_crl_info() with kInvalidArgument.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pki/crl_serial_set.h"
#include "pki/ptr.h"
#include "pki/serial_number.h"

namespace scepter::pki {

// RFC 5280 5.3.1 CRLReason codes; 7 is unassigned.
inline constexpr int kCrlReasonUnspecified = 0;
inline constexpr int kCrlReasonRemoveFromCrl = 8;  // delta CRLs only
inline constexpr int kCrlReasonAaCompromise = 10;  // the highest code
// The RFC 5280 name of a CRLReason code ("keyCompromise"), or nullptr for a code that
// names none (7, or outside 0..10).
const char* crl_reason_name(int code);
// Whether an entry of a complete CRL may carry `code`: a CRLReason other than
// removeFromCRL.
bool is_crl_entry_reason(int code);
// The code of a CRL entry reason (is_crl_entry_reason) by its RFC 5280 name, compared
// ignoring case ("keyCompromise", "keycompromise"); nullopt for any other name.
std::optional<int> crl_entry_reason_by_name(std::string_view name);

// Not thread-safe: the CA holds its CrlBuilder under its own lock. The const member
// functions (build() included) do not modify the builder, so several threads may call
// them at once while no thread calls a non-const one. Movable, not copyable.
class CrlBuilder {
 public:
  // `issuer` is the CA certificate: its subject becomes the CRL issuer and its
  // subjectKeyIdentifier the AKI keyid (SHA-1 of the public key, RFC 5280 method 1, when
  // the certificate has none). `key` is the matching private key, RSA or EC, possibly on a
  // token. Both are borrowed for the call; the builder takes its own reference to `key`.
  // Fails with kInvalidArgument if either is null or the key does not match the
  // certificate, kInternal on an OpenSSL failure.
  static Result<CrlBuilder> create(X509* issuer, EVP_PKEY* key);

  // create(), then refills the entries from a CRL this issuer signed (the CA's
  // `<label>.crl`). The CRL's signature is checked with the issuer certificate's public key
  // and its issuer name must equal the certificate's subject. Entries are kept byte for
  // byte, entry extensions included. Fails with kInvalidArgument on anything that is not
  // such a CRL (garbage, truncated, wrong issuer, bad signature, duplicate or non-Scepter
  // serials), or as create() does.
  static Result<CrlBuilder> load(X509* issuer, EVP_PKEY* key, std::string_view crl_der);

  CrlBuilder(CrlBuilder&&) = default;
  CrlBuilder& operator=(CrlBuilder&&) = default;

  // Appends one revoked entry, O(1) amortised. Entries appear in the CRL in the order they
  // were added. With a `reason` other than unspecified (0) the entry carries the
  // reasonCode extension (RFC 5280 5.3.1 says unspecified SHOULD be absent). Fails with
  // kAlreadyExists if the sequence number is already listed, kInvalidArgument if the time
  // cannot be encoded (year outside 0000..9999) or `reason` is not one a complete CRL may
  // carry (is_crl_entry_reason).
  Status add(const SerialNumber& serial, TimePoint revoked_at,
             std::optional<int> reason = std::nullopt);
  // Removes an entry (for `unrevoke`); O(number of entries). Fails with kNotFound if this
  // serial (entropy included) is not listed.
  Status remove(const SerialNumber& serial);
  bool contains(std::uint64_t sequence) const { return serials_.contains(sequence); }
  std::size_t size() const { return serials_.size(); }
  // Bytes held by the entry buffer (the revokedCertificates content).
  std::size_t entry_bytes() const { return entries_.size(); }
  // Reserves room for `n` more entries; a bulk refill calls it first.
  void reserve(std::size_t n);

  // The DER of a signed v2 CRL holding every entry, signed with the issuer key using `md`
  // (RSA PKCS#1 v1.5 or ECDSA; nullptr picks the key's default digest). Fails with
  // kInvalidArgument if next_update is before this_update or a time cannot be encoded,
  // kInternal if signing fails (e.g. a digest the key does not support, a token error).
  Result<std::string> build(TimePoint this_update, TimePoint next_update, std::uint64_t crl_number,
                            const EVP_MD* md) const;

 private:
  CrlBuilder() = default;

  Ptr<EVP_PKEY> key_;
  std::string issuer_der_;     // Name, as in the issuer certificate
  std::string aki_extension_;  // Extension TLV, fixed for the issuer
  std::string entries_;        // concatenated entry TLVs, in CRL order
  SerialSet serials_;          // sequence numbers
  // crlEntryExtensions TLV holding reasonCode, by code; encoded on first use.
  std::array<std::string, kCrlReasonAaCompromise + 1> reason_extensions_;
};

// Checks the signature of a DER CRL with `issuer_key` (a public or private key). Supports
// RSA PKCS#1 v1.5 and ECDSA with the usual digests. Fails with kInvalidArgument if the CRL
// is malformed, its two algorithm identifiers differ, the algorithm does not fit the key or
// the signature does not verify.
Status verify_crl_signature(std::string_view crl_der, EVP_PKEY* issuer_key);

// Whether `crl_der`, a CRL of `issuer` (its name, and a signature its key verifies),
// lists `cert` (by serial number, whatever its size). For a CA's CRL fetched over the
// network: kInvalidArgument when the bytes are not a DER CRL, name another issuer, or the
// signature does not verify; never crashes on garbage. Thread-safe.
Result<bool> crl_lists_certificate(std::string_view crl_der, X509* issuer, X509* cert);

// What `show crypto pki server <label> crl` displays about a CRL.
struct CrlInfo {
  struct Entry {
    SerialNumber serial;
    TimePoint revoked_at;
    std::optional<int> reason;  // the reasonCode entry extension, when present
  };
  int version = 1;                  // 1 or 2
  Ptr<X509_NAME> issuer;            // decoded issuer name
  std::string issuer_der;           // the same, as it appears in the CRL
  std::string signature_algorithm;  // long name, e.g. "sha256WithRSAEncryption"
  TimePoint this_update;
  std::optional<TimePoint> next_update;     // optional in RFC 5280
  std::optional<std::uint64_t> crl_number;  // absent from v1 CRLs
  std::string authority_key_id;             // raw keyid bytes; empty when absent
  std::vector<Entry> entries;               // in CRL order
  std::size_t size_bytes = 0;               // length of the DER
};

// Decodes a DER CRL for display. Does not check the signature (see
// verify_crl_signature()). Fails with kInvalidArgument on anything that is not a DER CRL
// with Scepter serials and a 64-bit CRL number, whatever the bytes; never crashes on garbage.
// Thread-safe.
Result<CrlInfo> parse_crl_info(std::string_view crl_der);

}  // namespace scepter::pki
