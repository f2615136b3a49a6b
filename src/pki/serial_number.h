#pragma once
// The serial numbers Scepter writes into certificates and CRL entries.
//
// A serial is a sequence number, as IOS numbers certificates: the main database keys on
// it and operators type it (`revoke 0x3`). While the signature hash is MD5 or SHA-1, every
// new certificate's serial also carries 64 random bits after the sequence number, so
// nobody can predict the bytes the CA is about to sign: the defence public CAs adopted
// against chosen-prefix collisions after the 2008 MD5 rogue-CA attack.
//
// The INTEGER is `sequence` without entropy and sequence * 2^64 + entropy with it. Every
// sequence number is at least 1, so the two forms never meet: an INTEGER below 2^64 is a
// bare sequence number, one in [2^64, 2^128) is a sequence number with entropy, and
// nothing larger (or negative) is a Scepter serial.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/asn1.h>

#include "common/status.h"

namespace scepter::pki {

struct SerialNumber {
  SerialNumber() = default;
  // Explicit: a bare number is a serial only where the code says so.
  explicit SerialNumber(std::uint64_t seq) : sequence(seq) {}
  SerialNumber(std::uint64_t seq, std::optional<std::uint64_t> random_bits)
      : sequence(seq), entropy(random_bits) {}

  std::uint64_t sequence = 0;
  std::optional<std::uint64_t> entropy;  // 64 random bits, when a weak hash was in force

  // The largest DER INTEGER TLV of a serial: tag, length, a leading zero and 16 bytes.
  static constexpr std::size_t kMaxDerSize = 2 + 1 + 16;

  // Writes the DER INTEGER TLV to `out` (kMaxDerSize bytes of room) and returns its
  // length. Minimal encoding, as DER requires.
  std::size_t put_der(unsigned char* out) const;
  std::string der() const;
  // Upper-case hex without leading zeros ("0" for zero), the form IOS shows.
  std::string hex() const;

  // A SerialNumber with fresh entropy from the OpenSSL DRBG. kInternal if it fails.
  static Result<SerialNumber> with_entropy(std::uint64_t sequence);
  // Splits a non-negative INTEGER below 2^128 as above; kInvalidArgument otherwise.
  static Result<SerialNumber> from_asn1(const ASN1_INTEGER* value);
  // The same from the content octets of a DER INTEGER (e.g. a CRL entry's serial), or
  // from a whole INTEGER TLV. Non-minimal encodings fail with kInvalidArgument. No
  // allocation: CRL refills call them once per entry.
  static Result<SerialNumber> from_integer_content(std::string_view content);
  static Result<SerialNumber> from_der(std::string_view der);
  // From what an operator types: the hex digits of a serial as `show` prints them.
  // kInvalidArgument for anything but 1 to 32 hex digits.
  static Result<SerialNumber> from_hex(std::string_view hex);
  // What the seed lets an operator type: "0x" + hex, "0" + octal, or decimal. A number
  // below 2^64 is a sequence number (it names that certificate whatever the random bits
  // of its serial); a hex string longer than 16 digits is a whole serial, as `show`
  // prints one issued under `hash md5|sha1`. nullopt when malformed.
  static std::optional<SerialNumber> parse(std::string_view text);

  friend bool operator==(const SerialNumber&, const SerialNumber&) = default;
};

}  // namespace scepter::pki
