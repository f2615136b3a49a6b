#include "pki/encoding.h"

#include <optional>

#include <openssl/evp.h>

namespace scepter::pki {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool is_b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// The value of a character of the standard alphabet (is_b64_char).
unsigned sextet(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a') + 26;
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0') + 52;
  return c == '+' ? 62 : 63;
}

// The one base64 reader: `clean` holds only standard-alphabet characters, no padding,
// and its length is not 1 mod 4. It is padded with 'A' (zero bits) to a whole quantum
// so EVP_DecodeBlock accepts it, and the extra bytes are cut off again.
Result<std::string> decode_unpadded(std::string clean) {
  if (clean.empty()) return std::string();
  const std::size_t want = clean.size() * 3 / 4;
  while (clean.size() % 4 != 0) clean.push_back('A');
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0 || static_cast<std::size_t>(n) < want) {
    return fail(invalid_argument("base64: cannot decode"));
  }
  out.resize(want);
  return out;
}

struct PemBlock {
  std::string_view label;
  std::string_view body;  // between the BEGIN and END lines
};

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kDashes = "-----";

// Finds the next "-----BEGIN X-----" ... "-----END X-----" at or after `pos`.
std::optional<PemBlock> next_pem_block(std::string_view text, std::size_t& pos) {
  while (true) {
    const std::size_t begin = text.find(kBegin, pos);
    if (begin == std::string_view::npos) return std::nullopt;
    const std::size_t label_start = begin + kBegin.size();
    const std::size_t label_end = text.find(kDashes, label_start);
    if (label_end == std::string_view::npos) return std::nullopt;
    const std::string_view label = text.substr(label_start, label_end - label_start);
    if (label.find('\n') != std::string_view::npos) {
      pos = label_start;
      continue;
    }
    const std::size_t body_start = label_end + kDashes.size();
    const std::string end_line = "-----END " + std::string(label) + "-----";
    const std::size_t end = text.find(end_line, body_start);
    if (end == std::string_view::npos) {
      pos = body_start;
      continue;
    }
    pos = end + end_line.size();
    return PemBlock{label, text.substr(body_start, end - body_start)};
  }
}

bool label_matches(std::string_view found, std::string_view wanted) {
  if (found == wanted) return true;
  if (wanted == "CERTIFICATE REQUEST" && found == "NEW CERTIFICATE REQUEST") return true;
  if (wanted == "CERTIFICATE" && found == "X509 CERTIFICATE") return true;
  return false;
}

}  // namespace

std::string base64_encode(std::string_view bytes, std::size_t line_width) {
  if (bytes.empty()) return {};
  std::string one_line(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(one_line.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  one_line.resize(static_cast<std::size_t>(n));
  if (line_width == 0) return one_line;
  std::string out;
  out.reserve(one_line.size() + one_line.size() / line_width + 1);
  for (std::size_t i = 0; i < one_line.size(); i += line_width) {
    out.append(one_line, i, line_width);
    out.push_back('\n');
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  // Normalise to the standard alphabet without padding, then decode that.
  std::string clean;
  clean.reserve(text.size());
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return fail(invalid_argument("base64: data after '=' padding"));
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    if (!is_b64_char(c)) {
      return fail(invalid_argument("base64: invalid character at offset " + std::to_string(i)));
    }
    clean.push_back(c);
  }
  if (padding > 2) return fail(invalid_argument("base64: too much '=' padding"));
  if (clean.size() % 4 == 1) return fail(invalid_argument("base64: truncated input"));
  // Partial padding ("QQ=") is tolerated like missing padding; excess padding is not.
  if (padding > 0 && (clean.size() % 4 == 0 || clean.size() % 4 + padding > 4)) {
    return fail(invalid_argument("base64: wrong amount of '=' padding"));
  }
  return decode_unpadded(std::move(clean));
}

std::string base64url_encode(std::string_view bytes) {
  std::string out = base64_encode(bytes, 0);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Result<std::string> base64url_decode(std::string_view text) {
  std::string clean(text);
  for (std::size_t i = 0; i < clean.size(); ++i) {
    char& c = clean[i];
    if (c == '+' || c == '/') c = '!';  // the standard alphabet's own symbols are foreign here
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    if (!is_b64_char(c)) {
      return fail(invalid_argument("base64url: invalid character at offset " + std::to_string(i)));
    }
  }
  if (clean.size() % 4 == 1) return fail(invalid_argument("base64url: truncated input"));
  // The last character of a partial quantum carries 2 (or 4) bits that encode nothing;
  // they must be zero, or several texts would decode to the same bytes.
  if (!clean.empty() && clean.size() % 4 != 0) {
    const unsigned unused = clean.size() % 4 == 2 ? 0x0F : 0x03;
    if ((sextet(clean.back()) & unused) != 0) {
      return fail(invalid_argument("base64url: non-zero bits after the last byte"));
    }
  }
  return decode_unpadded(std::move(clean));
}

std::string pem_encode(std::string_view label, std::string_view der) {
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  out += base64_encode(der, 64);
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

Result<std::string> pem_decode(std::string_view text, std::string_view expected_label) {
  std::size_t pos = 0;
  std::optional<std::string_view> other;
  while (auto block = next_pem_block(text, pos)) {
    if (!label_matches(block->label, expected_label)) {
      if (!other) other = block->label;
      continue;
    }
    if (block->body.find(':') != std::string_view::npos) {
      return fail(invalid_argument("PEM " + std::string(expected_label) +
                                   " has headers (encrypted PEM is not expected here)"));
    }
    auto der = base64_decode(block->body);
    if (!der) {
      return fail(
          invalid_argument("PEM " + std::string(expected_label) + ": " + der.error().message()));
    }
    if (der->empty())
      return fail(invalid_argument("PEM " + std::string(expected_label) + " is empty"));
    return der;
  }
  if (other) {
    return fail(invalid_argument("expected PEM " + std::string(expected_label) + ", found " +
                                 std::string(*other)));
  }
  return fail(invalid_argument("no PEM " + std::string(expected_label) + " found"));
}

std::string hex_upper(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

Result<std::string> decode_any(std::string_view text_or_der, std::string_view label) {
  if (text_or_der.empty()) return fail(invalid_argument("empty input"));
  if (static_cast<unsigned char>(text_or_der.front()) == 0x30) return std::string(text_or_der);
  if (text_or_der.find("-----BEGIN ") != std::string_view::npos) {
    return pem_decode(text_or_der, label);
  }
  auto der = base64_decode(text_or_der);
  if (!der) {
    return fail(
        invalid_argument("input is neither DER, PEM nor base64 (" + der.error().message() + ")"));
  }
  if (der->empty()) return fail(invalid_argument("empty input"));
  return der;
}

}  // namespace scepter::pki
