#include "pki/password_hash.h"

#include <openssl/evp.h>

#include "pki/digest.h"
#include "pki/encoding.h"

namespace scepter::pki {
namespace {

constexpr std::string_view kAlphabet =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kStandard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::size_t kSaltChars = 14, kHashChars = 43;

bool in_alphabet(std::string_view s) {
  return s.find_first_not_of(kAlphabet) == std::string_view::npos;
}

// The scrypt hash of `password` with `salt` (its characters as bytes), in the alphabet.
Result<std::string> derive(std::string_view password, std::string_view salt) {
  unsigned char key[32];
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), 16384, 1, 1,
                     0, key, sizeof key) != 1) {
    return fail(internal_error("scrypt failed"));
  }
  std::string text = base64_encode(std::string_view(reinterpret_cast<char*>(key), sizeof key), 0);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) c = kAlphabet[kStandard.find(c)];
  return text;
}

}  // namespace

Result<std::string> type9_hash(std::string_view password) {
  ASSIGN_OR_RETURN(std::string random, random_bytes(kSaltChars));
  std::string salt;
  for (unsigned char c : random) salt.push_back(kAlphabet[c % kAlphabet.size()]);
  ASSIGN_OR_RETURN(std::string hash, derive(password, salt));
  return "$9$" + salt + "$" + hash;
}

bool is_type9(std::string_view text) {
  return text.size() == 3 + kSaltChars + 1 + kHashChars && text.starts_with("$9$") &&
         text[3 + kSaltChars] == '$' && in_alphabet(text.substr(3, kSaltChars)) &&
         in_alphabet(text.substr(4 + kSaltChars));
}

bool type9_verify(std::string_view password, std::string_view hashed) {
  if (!is_type9(hashed)) return false;
  auto hash = derive(password, hashed.substr(3, kSaltChars));
  return hash.has_value() && constant_time_equal(*hash, hashed.substr(4 + kSaltChars));
}

}  // namespace scepter::pki
