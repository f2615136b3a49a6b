#include "pki/jose.h"

#include <cstdint>
#include <memory>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "pki/digest.h"
#include "pki/io.h"

namespace scepter::pki {
namespace {

struct FreeEcdsaSig {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, FreeEcdsaSig>;

constexpr std::uint64_t kMaxRsaExponent = (std::uint64_t{1} << 32) + 1;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Ptr<BIGNUM> to_bn(std::string_view v) {
  return Ptr<BIGNUM>(BN_bin2bn(bytes(v), static_cast<int>(v.size()), nullptr));
}

// The field size in bytes of the curves we take: 32 for P-256, 48 for P-384, 0 for others.
std::size_t coordinate_size(std::string_view crv) {
  if (crv == "P-256") return 32;
  if (crv == "P-384") return 48;
  return 0;
}

// "P-256" / "P-384" for an EC key on those curves, "" otherwise.
std::string jwk_curve(const Key& key) {
  if (!key.is_ec()) return {};
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key.evp(), OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
                                     &len) != 1) {
    ERR_clear_error();
    return {};
  }
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  if (nid == NID_X9_62_prime256v1) return "P-256";
  if (nid == NID_secp384r1) return "P-384";
  return {};
}

Result<Key> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  const bool ok = params != nullptr && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                  EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  Ptr<EVP_PKEY> pkey(raw);
  if (!ok) return fail(last_error(Code::kInvalidArgument, "the key's numbers are not usable"));
  return Key::from_evp(std::move(pkey));
}

const EVP_MD* jws_md(JwsAlgorithm alg) {
  return alg == JwsAlgorithm::kEs384 ? EVP_sha384() : EVP_sha256();
}

}  // namespace

std::optional<JwsAlgorithm> jws_algorithm(std::string_view name) {
  if (name == "RS256") return JwsAlgorithm::kRs256;
  if (name == "ES256") return JwsAlgorithm::kEs256;
  if (name == "ES384") return JwsAlgorithm::kEs384;
  if (name == "HS256") return JwsAlgorithm::kHs256;
  return std::nullopt;
}

const char* jws_algorithm_name(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRs256:
      return "RS256";
    case JwsAlgorithm::kEs256:
      return "ES256";
    case JwsAlgorithm::kEs384:
      return "ES384";
    case JwsAlgorithm::kHs256:
      return "HS256";
  }
  return "?";
}

bool jws_algorithm_fits(JwsAlgorithm alg, const Key& key) {
  switch (alg) {
    case JwsAlgorithm::kRs256:
      return key.is_rsa();
    case JwsAlgorithm::kEs256:
      return jwk_curve(key) == "P-256";
    case JwsAlgorithm::kEs384:
      return jwk_curve(key) == "P-384";
    case JwsAlgorithm::kHs256:
      return false;
  }
  return false;
}

Result<Key> rsa_public_key(std::string_view n, std::string_view e) {
  if (n.empty() || e.empty()) return fail(invalid_argument("RSA key: empty n or e"));
  if (n[0] == 0 || e[0] == 0) {
    return fail(invalid_argument("RSA key: n or e is not in the fewest bytes (leading zero)"));
  }
  if (n.size() > static_cast<std::size_t>(kJwkMaxRsaBits / 8) || e.size() > 5) {
    return fail(invalid_argument("RSA key: n or e too large"));
  }
  std::uint64_t exponent = 0;
  for (const char c : e) exponent = exponent << 8 | static_cast<unsigned char>(c);
  if (exponent < 3 || exponent > kMaxRsaExponent || exponent % 2 == 0) {
    return fail(invalid_argument("RSA key: the exponent must be odd, from 3 to 2^32 + 1"));
  }
  Ptr<BIGNUM> bn_n = to_bn(n);
  Ptr<BIGNUM> bn_e = to_bn(e);
  if (!bn_n || !bn_e) return fail(last_error("RSA key: allocating numbers"));
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kJwkMinRsaBits || bits > kJwkMaxRsaBits) {
    return fail(invalid_argument("RSA key: the modulus has " + std::to_string(bits) +
                                 " bits; from " + std::to_string(kJwkMinRsaBits) + " to " +
                                 std::to_string(kJwkMaxRsaBits) + " are accepted"));
  }
  if (!BN_is_odd(bn_n.get())) return fail(invalid_argument("RSA key: the modulus is even"));
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return fail(last_error("RSA key: building parameters"));
  }
  return from_params("RSA", bld.get());
}

Result<Key> ec_public_key(std::string_view crv, std::string_view x, std::string_view y) {
  const std::size_t size = coordinate_size(crv);
  if (size == 0) return fail(invalid_argument("EC key: the curve must be P-256 or P-384"));
  if (x.size() != size || y.size() != size) {
    return fail(invalid_argument("EC key: x and y must be " + std::to_string(size) +
                                 " bytes each on " + std::string(crv)));
  }
  std::string point = "\x04";
  point.append(x);
  point.append(y);
  const std::string group(crv);
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return fail(last_error("EC key: building parameters"));
  }
  auto key = from_params("EC", bld.get());
  if (!key) return fail(invalid_argument("EC key: the point is not on " + group));
  // Importing checks the point is on the curve; the full check also refuses coordinates
  // out of the field's range and points outside the curve's subgroup.
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->evp(), nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
    ERR_clear_error();
    return fail(invalid_argument("EC key: the point is not a valid public key on " + group));
  }
  return key;
}

Result<JwkMembers> jwk_members(const Key& key) {
  JwkMembers out;
  if (key.is_rsa()) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    const bool got = EVP_PKEY_get_bn_param(key.evp(), OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
                     EVP_PKEY_get_bn_param(key.evp(), OSSL_PKEY_PARAM_RSA_E, &e) == 1;
    Ptr<BIGNUM> owned_n(n);
    Ptr<BIGNUM> owned_e(e);
    if (!got) return fail(last_error("reading the RSA key's numbers"));
    out.kty = "RSA";
    out.n.resize(static_cast<std::size_t>(BN_num_bytes(n)));
    out.e.resize(static_cast<std::size_t>(BN_num_bytes(e)));
    BN_bn2bin(n, reinterpret_cast<unsigned char*>(out.n.data()));
    BN_bn2bin(e, reinterpret_cast<unsigned char*>(out.e.data()));
    return out;
  }
  const std::string crv = jwk_curve(key);
  if (crv.empty()) return fail(invalid_argument("only RSA, P-256 and P-384 keys have a JWK here"));
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  const bool got = EVP_PKEY_get_bn_param(key.evp(), OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
                   EVP_PKEY_get_bn_param(key.evp(), OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  Ptr<BIGNUM> owned_x(x);
  Ptr<BIGNUM> owned_y(y);
  if (!got) return fail(last_error("reading the EC key's point"));
  const std::size_t size = coordinate_size(crv);
  out.kty = "EC";
  out.crv = crv;
  out.x.resize(size);
  out.y.resize(size);
  if (BN_bn2binpad(x, reinterpret_cast<unsigned char*>(out.x.data()), static_cast<int>(size)) < 0 ||
      BN_bn2binpad(y, reinterpret_cast<unsigned char*>(out.y.data()), static_cast<int>(size)) < 0) {
    return fail(last_error("encoding the EC key's point"));
  }
  return out;
}

Status jws_verify(JwsAlgorithm alg, const Key& key, std::string_view input,
                  std::string_view signature) {
  if (!jws_algorithm_fits(alg, key)) {
    return invalid_argument(std::string(jws_algorithm_name(alg)) + " does not sign with this key");
  }
  std::string der;
  if (alg == JwsAlgorithm::kRs256) {
    // OpenSSL would take a signature shorter than the modulus (leading zeros left out);
    // RFC 8017 8.2.2 does not.
    if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.evp()))) {
      return permission_denied("the RS256 signature is not as long as the modulus");
    }
    der = std::string(signature);
  } else {
    const std::size_t size = alg == JwsAlgorithm::kEs256 ? 32 : 48;
    if (signature.size() != 2 * size) {
      return permission_denied(std::string("an ") + jws_algorithm_name(alg) + " signature has " +
                               std::to_string(2 * size) + " bytes, not " +
                               std::to_string(signature.size()));
    }
    EcdsaSigPtr sig(ECDSA_SIG_new());
    Ptr<BIGNUM> r = to_bn(signature.substr(0, size));
    Ptr<BIGNUM> s = to_bn(signature.substr(size));
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
      return last_error("building an ECDSA signature");
    }
    r.release();  // the ECDSA_SIG owns them now
    s.release();
    der = to_der(i2d_ECDSA_SIG, sig.get());
    if (der.empty()) return last_error("encoding an ECDSA signature");
  }
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) return last_error("allocating a digest context");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, jws_md(alg), nullptr, key.evp()) != 1 ||
      EVP_DigestVerify(ctx.get(), bytes(der), der.size(), bytes(input), input.size()) != 1) {
    ERR_clear_error();
    return permission_denied("the signature does not verify");
  }
  return ok_status();
}

Result<std::string> jws_sign(JwsAlgorithm alg, const Key& key, std::string_view input) {
  if (!jws_algorithm_fits(alg, key)) {
    return fail(
        invalid_argument(std::string(jws_algorithm_name(alg)) + " does not sign with this key"));
  }
  if (!key.has_private()) return fail(invalid_argument("the key has no private part"));
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) return fail(last_error("allocating a digest context"));
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, jws_md(alg), nullptr, key.evp()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1) {
    return fail(last_error(Code::kUnavailable, "signing with the private key"));
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(input),
                     input.size()) != 1) {
    return fail(last_error(Code::kUnavailable, "signing with the private key"));
  }
  sig.resize(len);
  if (alg == JwsAlgorithm::kRs256) return sig;
  const auto* p = bytes(sig);
  EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!ecdsa) return fail(last_error("reading the ECDSA signature"));
  const int size = alg == JwsAlgorithm::kEs256 ? 32 : 48;
  std::string raw(static_cast<std::size_t>(2 * size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), out, size) != size ||
      BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), out + size, size) != size) {
    return fail(last_error("encoding the ECDSA signature"));
  }
  return raw;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  static constexpr unsigned char kNoKey = 0;  // HMAC() wants a pointer even for an empty key
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok =
      HMAC(EVP_sha256(), key.empty() ? &kNoKey : bytes(key), static_cast<int>(key.size()),
           bytes(data), data.size(), mac, &len) != nullptr;
  CA_ASSERT(ok && len == 32, "HMAC-SHA256 is available");
  return std::string(reinterpret_cast<const char*>(mac), len);
}

bool hmac_sha256_verify(std::string_view key, std::string_view data, std::string_view mac) {
  return constant_time_equal(hmac_sha256(key, data), mac);
}

}  // namespace scepter::pki
