// The base64 of GET PKIOperation, as real clients send it (see request.h).

#include <climits>
#include <optional>
#include <string>

#include <openssl/evp.h>

#include "scep/request.h"

namespace scepter::scep {
namespace {

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

bool is_dropped_whitespace(char c) {
  return c == '\r' || c == '\n' || c == '\t' || c == '\v' || c == '\f';
}

}  // namespace

Result<std::string> decode_get_message(std::string_view query_value) {
  // 1. Percent-decode and map every character onto the standard alphabet.
  std::string b64;
  b64.reserve(query_value.size());
  for (size_t i = 0; i < query_value.size(); ++i) {
    char c = query_value[i];
    if (c == '%') {
      if (i + 2 >= query_value.size()) {
        return fail(invalid_argument("truncated percent-escape in message"));
      }
      auto hi = hex_value(query_value[i + 1]);
      auto lo = hex_value(query_value[i + 2]);
      if (!hi || !lo) return fail(invalid_argument("bad percent-escape in message"));
      c = static_cast<char>(*hi * 16 + *lo);
      i += 2;
    }
    if (is_dropped_whitespace(c)) continue;
    if (c == ' ') {
      c = '+';  // a form decoder turned a raw '+' into a space
    } else if (c == '-') {
      c = '+';  // URL-safe alphabet
    } else if (c == '_') {
      c = '/';
    }
    b64.push_back(c);
  }

  // 2. Padding: drop whatever is there and put back the right amount.
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  if (b64.empty()) return fail(invalid_argument("empty message"));
  // OpenSSL's decoder reads '=' as zero bits anywhere; only trailing padding is valid.
  if (b64.find('=') != std::string::npos) {
    return fail(invalid_argument("message is not base64 ('=' inside)"));
  }
  size_t pad = 0;
  switch (b64.size() % 4) {
    case 0:
      break;
    case 2:
      pad = 2;
      break;
    case 3:
      pad = 1;
      break;
    default:
      return fail(invalid_argument("message is not base64 (bad length)"));
  }
  b64.append(pad, '=');
  if (b64.size() > INT_MAX) return fail(invalid_argument("message too large"));

  // 3. Decode. EVP_DecodeBlock rejects anything outside the alphabet (including a
  //    stray '=' in the middle) and counts padding as zero bytes, removed here.
  std::string der(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(der.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0 || static_cast<size_t>(n) != der.size() || der.size() < pad) {
    return fail(invalid_argument("message is not base64"));
  }
  der.resize(der.size() - pad);
  return der;
}

std::string encode_get_message(std::string_view der) {
  if (der.empty() || der.size() > INT_MAX / 4 * 3 - 3) return {};
  std::string b64(((der.size() + 2) / 3) * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                          reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<int>(der.size()));
  b64.resize(n > 0 ? static_cast<size_t>(n) : 0);
  std::string out;
  out.reserve(b64.size() + b64.size() / 8);
  for (char c : b64) {
    switch (c) {
      case '+':
        out += "%2B";
        break;
      case '/':
        out += "%2F";
        break;
      case '=':
        out += "%3D";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace scepter::scep
