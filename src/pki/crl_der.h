#pragma once
// DER plumbing of pki/: the CRL engine (crl.h), the certificate builder (issuer.cpp) and
// the readers that find a key's bytes inside requests and certificates. Outside pki/,
// only the framing helpers (header_size, put_header, append_framed, next_tlv) are for
// use: scep/ frames its certs-only SignedData with them.
//
// Why we frame DER ourselves: a CRL with a million entries is one SEQUENCE OF a million
// small SEQUENCEs. OpenSSL's X509_CRL keeps one X509_REVOKED object (plus an ASN1_INTEGER
// and an ASN1_TIME) per entry, re-encodes every entry on each i2d and takes seconds and
// hundreds of megabytes at that size. So the builder keeps each entry as its finished DER
// bytes and only concatenates. The values inside the CRL (integers, names, algorithm
// identifiers, extensions) are encoded by OpenSSL's i2d functions. DER we write by hand is
// limited to two things: the identifier + length header of a SEQUENCE, [0] or BIT STRING
// around bytes that are already DER (put_header() below), and the Time values (put_time()
// below, which says why). Reading goes the same way: ASN1_get_object() splits TLVs,
// OpenSSL's d2i functions decode the values.
//
// All functions are pure and thread-safe. Parsing functions take untrusted bytes and fail
// with kInvalidArgument; the returned string_views point into the caller's buffer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "pki/serial_number.h"

namespace scepter::pki::der {

// Identifier octets of the constructions we frame.
inline constexpr unsigned char kSequence = 0x30;      // universal 16, constructed
inline constexpr unsigned char kContext0 = 0xA0;      // [0], constructed (EXPLICIT)
inline constexpr unsigned char kBitString = 0x03;     // universal 3, primitive
inline constexpr std::size_t kMaxHeaderSize = 1 + 9;  // identifier + 0x88 + 8 length octets

// Size of the identifier + length octets for `content_len` bytes of content (DER: short
// form below 128, else the minimal long form).
std::size_t header_size(std::size_t content_len);
// Writes the identifier and length octets to `out`, which must have header_size(content_len)
// bytes of room. Returns the number of bytes written.
std::size_t put_header(unsigned char identifier, std::size_t content_len, char* out);
// Appends header + content to `out`.
void append_framed(std::string& out, unsigned char identifier, std::string_view content);

// One TLV read from a buffer.
struct Tlv {
  int tag = 0;  // tag number (V_ASN1_SEQUENCE, 0 for [0], ...)
  int cls = 0;  // V_ASN1_UNIVERSAL, V_ASN1_CONTEXT_SPECIFIC, ...
  bool constructed = false;
  std::string_view whole;    // header + content
  std::string_view content;  // content only
};

// Reads the TLV at the front of `in` and advances `in` past it. Fails with kInvalidArgument
// on a truncated TLV, an indefinite length or a non-minimal length (not DER); `what` names
// the field in the message.
Result<Tlv> read_tlv(std::string_view& in, const char* what);
// The same for hot loops: fills `out` and returns nullptr, or returns why the TLV is bad
// (and leaves `in` alone).
const char* next_tlv(std::string_view& in, Tlv& out);
// read_tlv() that also requires the given class, tag and form.
Result<Tlv> expect_tlv(std::string_view& in, int cls, int tag, bool constructed, const char* what);

// The pieces of a CertificateList (RFC 5280 5.1), as views into the input. Optional parts
// that are absent are empty views.
struct CrlParts {
  std::string_view tbs;          // the whole TBSCertList TLV: the bytes that are signed
  int version = 1;               // 1 (no version field) or 2
  std::string_view tbs_sig_alg;  // AlgorithmIdentifier TLV inside the TBSCertList
  std::string_view issuer;       // Name TLV
  std::string_view this_update;  // Time TLV
  std::string_view next_update;  // Time TLV, or empty
  std::string_view entries;      // content of revokedCertificates (the entry TLVs), or empty
  std::string_view extensions;   // Extensions TLV (inside [0]), or empty
  std::string_view sig_alg;      // outer AlgorithmIdentifier TLV
  std::string_view signature;    // BIT STRING value without the unused-bits octet
};
// Splits a DER CRL. Checks the structure only: no signature check, no value decoding beyond
// the version. Fails with kInvalidArgument on anything that is not a DER CertificateList,
// including trailing bytes.
Result<CrlParts> split_crl(std::string_view der);

// One revokedCertificates entry.
struct RawEntry {
  std::string_view whole;  // the entry TLV, as it appears in the CRL
  SerialNumber serial;
  std::string_view time;  // revocationDate TLV (UTCTime or GeneralizedTime)
  bool has_extensions = false;
  std::string_view extensions;  // crlEntryExtensions TLV, or empty
};
// Reads the entry at the front of `in` (CrlParts::entries) into `out` and advances `in`.
// Fails with kInvalidArgument on a malformed entry or a serial that is negative or not
// below 2^128 (not a Scepter serial, serial_number.h).
Status read_entry(std::string_view& in, RawEntry& out);

// Whether a time fits a CRL Time field: years 0000..9999.
bool time_in_range(TimePoint t);
// DER INTEGER TLV of a 64-bit serial, encoded by OpenSSL.
std::string encode_serial(std::uint64_t serial);

// Tags of the two Time encodings, and the size of the longer TLV (GeneralizedTime
// YYYYMMDDHHMMSSZ: tag, length, 15 digits and Z).
inline constexpr unsigned char kUtcTime = 0x17;          // universal 23, primitive
inline constexpr unsigned char kGeneralizedTime = 0x18;  // universal 24, primitive
inline constexpr std::size_t kMaxTimeSize = 2 + 15;
// Writes the DER Time TLV of `t` to `out`, which must have kMaxTimeSize bytes of room, and
// returns the number of bytes written: UTCTime "YYMMDDHHMMSSZ" for the years 1950..2049,
// GeneralizedTime "YYYYMMDDHHMMSSZ" otherwise (RFC 5280 4.1.2.5), always UTC and whole
// seconds. Returns 0 and writes nothing for years outside 0000..9999 (!time_in_range(t)).
//
// This is the one value encoder written by hand, for speed on the CA's start-up path: a
// refill from N database rows calls CrlBuilder::add() N times, and OpenSSL's ASN1_TIME_set
// (gmtime plus BIO_snprintf into a heap ASN1_STRING) was more than half of that cost. The
// date comes from std::chrono civil-date arithmetic (no gmtime, no locale, no locks).
// crl_der_test.cpp checks the bytes against i2d_ASN1_TIME of ASN1_TIME_set's output, byte
// for byte, at the boundaries of both encodings and over random times from 0000 to 9999.
// `generalized`: GeneralizedTime whatever the year, as OCSP (RFC 6960) encodes its times.
std::size_t put_time(TimePoint t, char* out, bool generalized = false);
// put_time() as a string. Fails with kInvalidArgument for years outside 0000..9999.
Result<std::string> encode_time(TimePoint t);
// Decodes a Time TLV. Fails with kInvalidArgument on a malformed time.
Result<TimePoint> decode_time(std::string_view tlv);

}  // namespace scepter::pki::der
