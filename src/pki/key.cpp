#include "pki/key.h"

#include <climits>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/provider.h"

namespace scepter::pki {
namespace {

constexpr int kMinRsaBits = 512;  // OpenSSL 3 refuses smaller moduli
constexpr int kMaxRsaBits = 16384;

struct Passphrase {
  std::string_view text;
  bool asked = false;
};

// Never let OpenSSL fall back to prompting on the terminal: a daemon has none.
int passphrase_cb(char* buf, int size, int /*rwflag*/, void* user) {
  auto* pass = static_cast<Passphrase*>(user);
  pass->asked = true;
  if (pass->text.empty() || pass->text.size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, pass->text.data(), pass->text.size());
  return static_cast<int>(pass->text.size());
}

bool has_bn_param(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  const bool present = EVP_PKEY_get_bn_param(pkey, name, &raw) == 1;
  Ptr<BIGNUM> owned(raw);
  return present;
}

bool detect_private(const EVP_PKEY* pkey) {
  const bool present =
      has_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D) || has_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
  ERR_clear_error();
  return present;
}

const char* cipher_name(PemCipher cipher) {
  switch (cipher) {
    case PemCipher::kDes:
      return "DES-CBC";
    case PemCipher::kTripleDes:
      return "DES-EDE3-CBC";
    case PemCipher::kAes256:
      return "AES-256-CBC";
  }
  return "AES-256-CBC";
}

}  // namespace

Key::Key(Ptr<EVP_PKEY> pkey, bool has_private, std::string spki_der)
    : pkey_(std::move(pkey)), has_private_(has_private), spki_der_(std::move(spki_der)) {}

Key::Key(const Key& other)
    : pkey_(up_ref(other.pkey_.get())),
      has_private_(other.has_private_),
      spki_der_(other.spki_der_) {}

Key& Key::operator=(const Key& other) {
  if (this != &other) {
    pkey_ = up_ref(other.pkey_.get());
    has_private_ = other.has_private_;
    spki_der_ = other.spki_der_;
  }
  return *this;
}

Result<Key> Key::make(Ptr<EVP_PKEY> pkey, bool has_private) {
  if (!pkey) return fail(invalid_argument("no key"));
  std::string spki = to_der(i2d_PUBKEY, pkey.get());
  if (spki.empty()) return fail(last_error(Code::kInvalidArgument, "cannot encode public key"));
  return Key(std::move(pkey), has_private, std::move(spki));
}

Result<Key> Key::generate_rsa(int bits) {
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return fail(invalid_argument("RSA key size must be between " + std::to_string(kMinRsaBits) +
                                 " and " + std::to_string(kMaxRsaBits) + " bits, not " +
                                 std::to_string(bits)));
  }
  Ptr<EVP_PKEY> pkey(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (!pkey) return fail(last_error("generating RSA key"));
  return make(std::move(pkey), true);
}

Result<Key> Key::generate_ec(int bits) {
  const char* curve = bits == 256 ? "P-256" : bits == 384 ? "P-384" : nullptr;
  if (curve == nullptr) {
    return fail(
        invalid_argument("EC key size must be 256 or 384 bits, not " + std::to_string(bits)));
  }
  Ptr<EVP_PKEY> pkey(EVP_EC_gen(curve));
  if (!pkey) return fail(last_error("generating EC key"));
  return make(std::move(pkey), true);
}

Result<Key> Key::from_pem(std::string_view pem, std::string_view passphrase) {
  const bool encrypted = pem.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos ||
                         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
  // IOS exports with single DES, which lives in the legacy provider.
  if (encrypted) load_legacy_provider();
  Ptr<BIO> bio = read_bio(pem);
  if (!bio) return fail(last_error("allocating BIO"));
  Passphrase pass{passphrase};
  Ptr<EVP_PKEY> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_cb, &pass));
  if (pkey) {
    ERR_clear_error();
    return make(std::move(pkey), true);
  }
  if (encrypted) {
    ERR_clear_error();
    if (passphrase.empty()) {
      return fail(permission_denied("the private key is encrypted: a passphrase is required"));
    }
    return fail(permission_denied("cannot decrypt the private key: wrong passphrase?"));
  }
  if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    ERR_clear_error();
    bio = read_bio(pem);
    if (!bio) return fail(last_error("allocating BIO"));
    pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, passphrase_cb, &pass));
    if (pkey) return make(std::move(pkey), false);
  }
  return fail(last_error(Code::kInvalidArgument, "no usable key in PEM"));
}

Result<Key> Key::from_public_der(std::string_view spki_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  if (spki_der.size() > LONG_MAX) return fail(invalid_argument("public key too large"));
  Ptr<EVP_PKEY> pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!pkey) return fail(last_error(Code::kInvalidArgument, "bad SubjectPublicKeyInfo"));
  if (p != reinterpret_cast<const unsigned char*>(spki_der.data() + spki_der.size())) {
    return fail(invalid_argument("trailing bytes after SubjectPublicKeyInfo"));
  }
  return make(std::move(pkey), false);
}

Result<Key> Key::from_evp(Ptr<EVP_PKEY> pkey) {
  if (!pkey) return fail(invalid_argument("no key"));
  const bool priv = detect_private(pkey.get());
  return make(std::move(pkey), priv);
}

bool Key::is_rsa() const { return EVP_PKEY_is_a(pkey_.get(), "RSA") == 1; }
bool Key::is_ec() const { return EVP_PKEY_is_a(pkey_.get(), "EC") == 1; }
int Key::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

Result<std::string> Key::to_pkcs8_encrypted_pem(std::string_view passphrase) const {
  if (!has_private_) return fail(invalid_argument("the key has no private part"));
  if (passphrase.empty()) return fail(invalid_argument("a passphrase is required"));
  if (passphrase.size() > INT_MAX) return fail(invalid_argument("passphrase too long"));
  Ptr<BIO> bio = write_bio();
  if (!bio) return fail(last_error("allocating BIO"));
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), EVP_aes_256_cbc(), passphrase.data(),
                                    static_cast<int>(passphrase.size()), nullptr, nullptr) != 1) {
    return fail(last_error("encrypting private key"));
  }
  return bio_contents(bio.get());
}

Result<std::string> Key::to_traditional_pem(std::string_view passphrase, PemCipher cipher) const {
  if (!has_private_) return fail(invalid_argument("the key has no private part"));
  if (passphrase.empty()) return fail(invalid_argument("a passphrase is required"));
  if (cipher == PemCipher::kDes && !load_legacy_provider()) {
    return fail(unavailable("DES needs the OpenSSL legacy provider, which is not installed"));
  }
  // The "type-specific" structure is PKCS#1 for RSA and SEC1 for EC; with a cipher the
  // PEM encoder writes the Proc-Type/DEK-Info headers.
  Ptr<OSSL_ENCODER_CTX> ctx(OSSL_ENCODER_CTX_new_for_pkey(pkey_.get(), OSSL_KEYMGMT_SELECT_KEYPAIR,
                                                          "PEM", "type-specific", nullptr));
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0) {
    return fail(last_error("no traditional PEM encoder for this key"));
  }
  if (OSSL_ENCODER_CTX_set_cipher(ctx.get(), cipher_name(cipher), nullptr) != 1 ||
      OSSL_ENCODER_CTX_set_passphrase(ctx.get(),
                                      reinterpret_cast<const unsigned char*>(passphrase.data()),
                                      passphrase.size()) != 1) {
    return fail(last_error(cipher == PemCipher::kDes ? Code::kUnavailable : Code::kInternal,
                           "setting up PEM encryption"));
  }
  Ptr<BIO> bio = write_bio();
  if (!bio) return fail(last_error("allocating BIO"));
  if (OSSL_ENCODER_to_bio(ctx.get(), bio.get()) != 1) {
    return fail(last_error("encoding private key"));
  }
  return bio_contents(bio.get());
}

std::string Key::public_pem() const { return pem_encode("PUBLIC KEY", spki_der_); }

bool Key::equals_public(const Key& other) const {
  const bool same = EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
  ERR_clear_error();
  return same;
}

std::string ios_key_data(const Key& key) {
  const std::string hex = hex_upper(key.public_key_der());
  std::string out;
  constexpr std::size_t kGroup = 8;
  constexpr std::size_t kLine = 8 * kGroup;
  for (std::size_t line = 0; line < hex.size(); line += kLine) {
    out += "  ";
    for (std::size_t g = line; g < hex.size() && g < line + kLine; g += kGroup) {
      if (g != line) out.push_back(' ');
      out.append(hex, g, kGroup);
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace scepter::pki
