#include "pki/digest.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pki/encoding.h"

namespace scepter::pki {

Result<Hash> parse_hash(std::string_view name) {
  std::string lower;
  for (const char c : name) {
    if (c == '-') continue;
    lower.push_back(static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c));
  }
  if (lower == "md5") return Hash::kMd5;
  if (lower == "sha1") return Hash::kSha1;
  if (lower == "sha256") return Hash::kSha256;
  if (lower == "sha384") return Hash::kSha384;
  if (lower == "sha512") return Hash::kSha512;
  return fail(invalid_argument("unknown hash algorithm '" + std::string(name) + "'"));
}

std::string_view hash_name(Hash hash) {
  switch (hash) {
    case Hash::kMd5:
      return "md5";
    case Hash::kSha1:
      return "sha1";
    case Hash::kSha256:
      return "sha256";
    case Hash::kSha384:
      return "sha384";
    case Hash::kSha512:
      return "sha512";
  }
  return "sha256";
}

const EVP_MD* evp_md(Hash hash) {
  switch (hash) {
    case Hash::kMd5:
      return EVP_md5();
    case Hash::kSha1:
      return EVP_sha1();
    case Hash::kSha256:
      return EVP_sha256();
    case Hash::kSha384:
      return EVP_sha384();
    case Hash::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

std::string digest(Hash hash, std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const int ok = EVP_Digest(bytes.data(), bytes.size(), md, &len, evp_md(hash), nullptr);
  CA_ASSERT(ok == 1, "EVP_Digest failed");
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string md5_hex(std::string_view bytes) { return hex_upper(digest(Hash::kMd5, bytes)); }

std::string ios_fingerprint(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() + hex.size() / 8);
  for (std::size_t i = 0; i < hex.size(); i += 8) {
    if (i > 0) out.push_back(' ');
    out.append(hex.substr(i, 8));
  }
  return out;
}

Result<std::string> random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return fail(internal_error("the random number generator failed"));
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace scepter::pki
