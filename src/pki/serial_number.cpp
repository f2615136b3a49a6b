#include "pki/serial_number.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include <openssl/err.h>
#include <openssl/rand.h>

namespace scepter::pki {
namespace {

constexpr unsigned char kIntegerTag = 0x02;

void put_be64(std::uint64_t v, unsigned char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
}

std::uint64_t get_be(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Splits a big-endian magnitude of at most 16 bytes (no leading zeros needed).
Result<SerialNumber> from_magnitude(const unsigned char* p, std::size_t n) {
  while (n > 0 && *p == 0) {
    ++p;
    --n;
  }
  if (n > 16) return fail(invalid_argument("serial number is larger than 2^128"));
  SerialNumber s;
  if (n <= 8) {
    s.sequence = get_be(p, n);
    return s;
  }
  s.sequence = get_be(p, n - 8);
  s.entropy = get_be(p + n - 8, 8);
  return s;
}

}  // namespace

std::size_t SerialNumber::put_der(unsigned char* out) const {
  std::array<unsigned char, 16> raw{};
  std::size_t len = 8;
  put_be64(sequence, raw.data());
  if (entropy.has_value()) {
    put_be64(*entropy, raw.data() + 8);
    len = 16;
  }
  std::size_t skip = 0;
  while (skip + 1 < len && raw[skip] == 0) ++skip;
  const bool pad = (raw[skip] & 0x80) != 0;  // keep the INTEGER positive
  const std::size_t content = len - skip + (pad ? 1 : 0);
  std::size_t o = 0;
  out[o++] = kIntegerTag;
  out[o++] = static_cast<unsigned char>(content);
  if (pad) out[o++] = 0;
  for (std::size_t i = skip; i < len; ++i) out[o++] = raw[i];
  return o;
}

std::string SerialNumber::der() const {
  unsigned char buf[kMaxDerSize];
  const std::size_t n = put_der(buf);
  return std::string(reinterpret_cast<const char*>(buf), n);
}

std::string SerialNumber::hex() const {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  auto append = [&](std::uint64_t v, bool leading_zeros) {
    for (int shift = 60; shift >= 0; shift -= 4) {
      const unsigned d = static_cast<unsigned>((v >> shift) & 0xf);
      if (d == 0 && !leading_zeros && out.empty()) continue;
      out += kDigits[d];
    }
  };
  append(sequence, false);
  if (entropy.has_value()) append(*entropy, true);
  if (out.empty()) out = "0";
  return out;
}

Result<SerialNumber> SerialNumber::with_entropy(std::uint64_t sequence) {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    ERR_clear_error();
    return fail(internal_error("the random generator failed to make a serial number"));
  }
  return SerialNumber{sequence, get_be(bytes, sizeof bytes)};
}

Result<SerialNumber> SerialNumber::from_asn1(const ASN1_INTEGER* value) {
  if (value == nullptr || ASN1_STRING_type(value) != V_ASN1_INTEGER) {
    return fail(invalid_argument("serial number is not a non-negative INTEGER"));
  }
  return from_magnitude(ASN1_STRING_get0_data(value),
                        static_cast<std::size_t>(ASN1_STRING_length(value)));
}

Result<SerialNumber> SerialNumber::from_integer_content(std::string_view content) {
  const auto* p = reinterpret_cast<const unsigned char*>(content.data());
  const std::size_t n = content.size();
  if (n == 0) return fail(invalid_argument("serial number is an empty INTEGER"));
  if ((p[0] & 0x80) != 0) return fail(invalid_argument("serial number is negative"));
  if (n > 1 && p[0] == 0 && (p[1] & 0x80) == 0) {
    return fail(invalid_argument("serial number is not minimally encoded"));
  }
  return from_magnitude(p, n);
}

Result<SerialNumber> SerialNumber::from_der(std::string_view der) {
  // Every serial fits the short length form; a long form is not one of ours.
  if (der.size() < 2 || static_cast<unsigned char>(der[0]) != kIntegerTag ||
      static_cast<unsigned char>(der[1]) != der.size() - 2) {
    return fail(invalid_argument("serial number is not a DER INTEGER below 2^128"));
  }
  return from_integer_content(der.substr(2));
}

Result<SerialNumber> SerialNumber::from_hex(std::string_view hex) {
  if (hex.empty() || hex.size() > 32) {
    return fail(invalid_argument("a serial number has 1 to 32 hex digits"));
  }
  std::array<unsigned char, 16> raw{};
  std::size_t pos = raw.size() * 2 - hex.size();  // nibble index of the first digit
  for (char c : hex) {
    unsigned d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return fail(invalid_argument("a serial number has only hex digits"));
    }
    raw[pos / 2] |= static_cast<unsigned char>(pos % 2 == 0 ? d << 4 : d);
    ++pos;
  }
  return from_magnitude(raw.data(), raw.size());
}

// The seed: "A string with a leading 0x, which is treated as a hexadecimal value; a
// string with a leading 0 and no x, which is treated as octal; all other strings,
// which are treated as decimal." A number below 2^64 is a sequence number (it revokes
// that certificate whatever the random bits of its serial); a longer hex string is a
// whole serial of a certificate issued under `hash md5|sha1`, as `show` prints it.
std::optional<SerialNumber> SerialNumber::parse(std::string_view text) {
  const std::string s(text);
  int base = 10;
  std::size_t start = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    start = 2;
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    start = 1;
  }
  if (start >= s.size()) {
    return s == "0" ? std::optional<SerialNumber>(SerialNumber{0}) : std::nullopt;
  }
  if (base == 16 && s.size() - start > 16) {
    auto whole = from_hex(std::string_view(s).substr(start));
    return whole.has_value() ? std::optional<SerialNumber>(*whole) : std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str() + start, &end, base);
  // strtoull would take leading spaces and signs.
  if (errno != 0 || end == s.c_str() + start || *end != '\0' ||
      !std::isxdigit(static_cast<unsigned char>(s[start]))) {
    return std::nullopt;
  }
  return SerialNumber{v};
}

}  // namespace scepter::pki
