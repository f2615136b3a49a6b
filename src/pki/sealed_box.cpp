#include "pki/sealed_box.h"

#include <climits>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "pki/io.h"

namespace scepter::pki {
namespace {

constexpr unsigned char kVersion = 1;
constexpr unsigned char kRsa = 1, kEc = 2;
constexpr std::size_t kAesKeyBytes = 32, kIvBytes = 12, kTagBytes = 16;
constexpr std::string_view kHkdfLabel = "scepter sealed box v1";

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Status refused() { return invalid_argument("the sealed box does not open with this key"); }

// The AES key from an ECDH shared secret and the ephemeral public key it was made with.
Result<std::string> hkdf(std::string_view secret, std::string_view ephemeral_spki) {
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string info(kHkdfLabel);
  info += ephemeral_spki;
  std::string out(kAesKeyBytes, '\0');
  std::size_t len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), bytes(secret), static_cast<int>(secret.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), bytes(info), static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), bytes(out), &len) != 1 || len != out.size()) {
    return fail(last_error("deriving the sealing key"));
  }
  return out;
}

Result<std::string> ecdh(EVP_PKEY* own, EVP_PKEY* peer) {
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
    return fail(last_error(Code::kUnavailable, "ECDH with the sealing key"));
  }
  std::string out(len, '\0');
  if (EVP_PKEY_derive(ctx.get(), bytes(out), &len) != 1) {
    return fail(last_error(Code::kUnavailable, "ECDH with the sealing key"));
  }
  out.resize(len);
  return out;
}

// AES-256-GCM; `in` is the plaintext (encrypt) or the ciphertext (decrypt), `tag` is
// written (encrypt) or checked (decrypt).
Result<std::string> gcm(bool encrypt, std::string_view key, std::string_view iv,
                        std::string_view aad, std::string_view in, std::string& tag) {
  if (in.size() > INT_MAX || aad.size() > INT_MAX)
    return fail(invalid_argument("too large to seal"));
  Ptr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  std::string out(in.size(), '\0');
  int n = 0, last = 0;
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  if (!ctx || init(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                          nullptr) != 1 ||
      init(ctx.get(), nullptr, nullptr, bytes(key), bytes(iv)) != 1 ||
      update(ctx.get(), nullptr, &n, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      update(ctx.get(), bytes(out), &n, bytes(in), static_cast<int>(in.size())) != 1) {
    return fail(last_error("AES-256-GCM"));
  }
  if (encrypt) {
    tag.assign(kTagBytes, '\0');
    if (EVP_EncryptFinal_ex(ctx.get(), bytes(out) + n, &last) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                            bytes(tag)) != 1) {
      return fail(last_error("AES-256-GCM"));
    }
    return out;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                          bytes(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(out) + n, &last) != 1) {
    ERR_clear_error();
    return fail(refused());
  }
  return out;
}

}  // namespace

Result<std::string> seal(std::string_view secret, const Key& recipient, std::string_view context) {
  std::string key(kAesKeyBytes, '\0');
  std::string transport;
  unsigned char kind = 0;
  if (recipient.is_rsa()) {
    kind = kRsa;
    if (RAND_bytes(bytes(key), static_cast<int>(key.size())) != 1) {
      return fail(last_error("drawing a sealing key"));
    }
    Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, recipient.evp(), nullptr));
    std::size_t len = 0;
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx.get(), nullptr, &len, bytes(key), key.size()) != 1) {
      return fail(last_error("sealing to the RSA key"));
    }
    transport.assign(len, '\0');
    if (EVP_PKEY_encrypt(ctx.get(), bytes(transport), &len, bytes(key), key.size()) != 1) {
      return fail(last_error("sealing to the RSA key"));
    }
    transport.resize(len);
  } else if (recipient.is_ec()) {
    kind = kEc;
    char group[64] = {};
    if (EVP_PKEY_get_utf8_string_param(recipient.evp(), OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof group, nullptr) != 1) {
      return fail(last_error("reading the EC key's curve"));
    }
    Ptr<EVP_PKEY> ephemeral(EVP_EC_gen(group));
    if (!ephemeral) return fail(last_error("making an ephemeral EC key"));
    transport = to_der(i2d_PUBKEY, ephemeral.get());
    if (transport.empty()) return fail(last_error("encoding the ephemeral EC key"));
    ASSIGN_OR_RETURN(std::string shared, ecdh(ephemeral.get(), recipient.evp()));
    ASSIGN_OR_RETURN(key, hkdf(shared, transport));
    OPENSSL_cleanse(shared.data(), shared.size());
  } else {
    return fail(invalid_argument("only RSA and EC keys seal"));
  }
  if (transport.size() > 0xFFFF) return fail(invalid_argument("key transport too large"));
  std::string iv(kIvBytes, '\0');
  if (RAND_bytes(bytes(iv), static_cast<int>(iv.size())) != 1) {
    return fail(last_error("drawing an IV"));
  }
  std::string tag;
  auto ciphertext = gcm(true, key, iv, context, secret, tag);
  OPENSSL_cleanse(key.data(), key.size());
  if (!ciphertext.has_value()) return fail(ciphertext.error());
  std::string box;
  box.reserve(4 + transport.size() + kIvBytes + kTagBytes + ciphertext->size());
  box.push_back(static_cast<char>(kVersion));
  box.push_back(static_cast<char>(kind));
  box.push_back(static_cast<char>(transport.size() >> 8));
  box.push_back(static_cast<char>(transport.size() & 0xFF));
  box += transport;
  box += iv;
  box += tag;
  box += *ciphertext;
  return box;
}

Result<std::string> unseal(std::string_view box, const Key& recipient, std::string_view context) {
  if (box.size() < 4 || static_cast<unsigned char>(box[0]) != kVersion) {
    return fail(invalid_argument("not a sealed box"));
  }
  const auto kind = static_cast<unsigned char>(box[1]);
  const std::size_t n = (static_cast<std::size_t>(static_cast<unsigned char>(box[2])) << 8) |
                        static_cast<unsigned char>(box[3]);
  if (box.size() < 4 + n + kIvBytes + kTagBytes) return fail(invalid_argument("not a sealed box"));
  const std::string_view transport = box.substr(4, n);
  const std::string_view iv = box.substr(4 + n, kIvBytes);
  std::string tag(box.substr(4 + n + kIvBytes, kTagBytes));
  const std::string_view ciphertext = box.substr(4 + n + kIvBytes + kTagBytes);
  if (!recipient.has_private()) return fail(invalid_argument("the key has no private part"));

  std::string key;
  if (kind == kRsa && recipient.is_rsa()) {
    Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, recipient.evp(), nullptr));
    std::size_t len = 0;
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_decrypt(ctx.get(), nullptr, &len, bytes(transport), transport.size()) != 1) {
      return fail(last_error(Code::kUnavailable, "opening with the RSA key"));
    }
    key.assign(len, '\0');
    if (EVP_PKEY_decrypt(ctx.get(), bytes(key), &len, bytes(transport), transport.size()) != 1) {
      ERR_clear_error();
      return fail(refused());
    }
    key.resize(len);
    if (key.size() != kAesKeyBytes) return fail(refused());
  } else if (kind == kEc && recipient.is_ec()) {
    const auto* p = bytes(transport);
    Ptr<EVP_PKEY> ephemeral(d2i_PUBKEY(nullptr, &p, static_cast<long>(transport.size())));
    if (!ephemeral || p != bytes(transport) + transport.size()) {
      ERR_clear_error();
      return fail(invalid_argument("not a sealed box"));
    }
    auto shared = ecdh(recipient.evp(), ephemeral.get());
    if (!shared.has_value()) {
      // A peer key on another curve is the box's fault, not the key's.
      if (EVP_PKEY_parameters_eq(recipient.evp(), ephemeral.get()) != 1) return fail(refused());
      return fail(shared.error());
    }
    ASSIGN_OR_RETURN(key, hkdf(*shared, transport));
    OPENSSL_cleanse(shared->data(), shared->size());
  } else {
    return fail(refused());
  }
  auto secret = gcm(false, key, iv, context, ciphertext, tag);
  OPENSSL_cleanse(key.data(), key.size());
  return secret;
}

}  // namespace scepter::pki
