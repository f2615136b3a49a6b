#pragma once
// Key: an RSA or EC key pair (or only its public half), as the `crypto key` commands
// and the CA use them.
//
// Failures: input (PEM text, DER, sizes) that cannot be used gives kInvalidArgument; a
// wrong or missing passphrase for an encrypted key gives kPermissionDenied; an OpenSSL
// failure that input cannot explain gives kInternal.
//
// Ownership and threads: a Key owns one reference to an EVP_PKEY. Copies share that
// EVP_PKEY (up-ref) and nothing ever modifies it, so signing, verifying and encoding
// through one Key, or through copies of it, from several threads at once is safe
// (OpenSSL 3 allows concurrent use of a const EVP_PKEY). A moved-from Key may only be
// assigned to or destroyed.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::pki {

// PBKDF2-HMAC-SHA256 iterations for a private key kept at rest (key store, CA archive,
// PKCS#12 exports): OWASP's 2023 figure for PBKDF2-HMAC-SHA256. About 0.2-0.3 s of one
// core per encryption or decryption, so keys are decrypted at start-up or on an
// operator's command, never per request.
inline constexpr int kKeyEncryptionIterations = 600'000;
// Encrypted keys asking for more than this are refused before any work: a file that
// names 2^31 iterations would otherwise hold a thread for hours.
inline constexpr int kMaxKeyEncryptionIterations = 10'000'000;

// What protects an "ENCRYPTED PRIVATE KEY" (PKCS#8 EncryptedPrivateKeyInfo), read
// without the passphrase. Names are OpenSSL's long names.
struct Pkcs8Protection {
  std::string scheme;           // "PBES2", or a PBES1/PKCS#12 scheme such as "pbeWithMD5AndDES-CBC"
  std::string kdf;              // PBES2 only: "PBKDF2", "scrypt"
  std::string prf;              // PBKDF2 only: "hmacWithSHA256" (the default is hmacWithSHA1)
  std::string cipher;           // PBES2 only: "aes-256-cbc"
  long iterations = 0;          // PBKDF2 or PBES1 iteration count; 0 for scrypt
  std::size_t salt_length = 0;  // PBKDF2 salt in bytes
};
// Fails with kInvalidArgument when `pem` holds no readable EncryptedPrivateKeyInfo.
Result<Pkcs8Protection> pkcs8_protection(std::string_view pem);

// Encryption of a traditional ("BEGIN RSA PRIVATE KEY") PEM export, the choices of IOS
// `crypto key export rsa <label> pem ... {des|3des|aes}`.
enum class PemCipher { kDes, kTripleDes, kAes256 };

class Key {
 public:
  // A new RSA key with public exponent 65537. OpenSSL 3 accepts 512 to 16384 bits;
  // other sizes fail with kInvalidArgument. (The CLI enforces IOS's own range.)
  static Result<Key> generate_rsa(int bits);
  // A new EC key on P-256 (bits = 256) or P-384 (bits = 384), named-curve encoding;
  // other sizes fail with kInvalidArgument.
  static Result<Key> generate_ec(int bits);

  // Reads the first private key in `pem`: PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8
  // ("ENCRYPTED PRIVATE KEY") or traditional ("RSA PRIVATE KEY", "EC PRIVATE KEY", with
  // or without "Proc-Type: 4,ENCRYPTED"). Without a private key, a "PUBLIC KEY" block is
  // read as a public-only key. Never prompts on a terminal. Fails with kPermissionDenied
  // for an encrypted key when the passphrase is empty or wrong, kInvalidArgument when
  // there is no usable key or an encrypted PKCS#8 key asks for more than
  // kMaxKeyEncryptionIterations.
  static Result<Key> from_pem(std::string_view pem, std::string_view passphrase = {});
  // A public-only key from a DER SubjectPublicKeyInfo. kInvalidArgument on bad bytes.
  static Result<Key> from_public_der(std::string_view spki_der);
  // A private key from an unencrypted PKCS#8 PrivateKeyInfo (DER), as to_pkcs8_der()
  // writes it. kInvalidArgument on bad or trailing bytes.
  static Result<Key> from_pkcs8_der(std::string_view der);
  // Takes ownership of an EVP_PKEY (public or private). Fails with kInvalidArgument if
  // it is null or its public key cannot be encoded.
  static Result<Key> from_evp(Ptr<EVP_PKEY> pkey);
  // from_evp() for a key OpenSSL decoded from `spki_der` (the SubjectPublicKeyInfo of a
  // request or certificate it parsed): those bytes become public_key_der() when they are
  // already the DER that encoding the key would give, which saves encoding it again.
  // The caller vouches that `pkey` was decoded from `spki_der`.
  static Result<Key> from_decoded(Ptr<EVP_PKEY> pkey, std::string_view spki_der);
  // A private key that a PKCS#11 token holds (see pki/token.h): `pkey` carries only its
  // public half and hands every private operation to the token. `holder` keeps what that
  // needs (the token's loaded module and session) alive while any copy of the Key lives;
  // `token` is the token's name. Such a key is never exported: the to_*_pem() functions
  // fail with kPermissionDenied.
  static Result<Key> on_token(Ptr<EVP_PKEY> pkey, std::shared_ptr<const void> holder,
                              std::string token);

  Key(const Key& other);
  Key& operator=(const Key& other);
  Key(Key&&) noexcept = default;
  Key& operator=(Key&&) noexcept = default;
  ~Key() { pkey_.reset(); }  // before holder_, which pkey_ may need to its end

  bool has_private() const { return has_private_; }
  // The token holding the private key, empty for a key held in this process.
  const std::string& token() const { return token_; }
  // Signs a few bytes and checks the signature: whether the private key still works (a
  // token may have been removed). kUnavailable with the library's reason when not.
  Status check_private() const;
  // A detached signature of `data` with SHA-256 (PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value
  // for EC), on the token too for a token key. kInvalidArgument without a private key,
  // kUnavailable when the key cannot sign.
  Result<std::string> sign(std::string_view data) const;
  // Whether `signature` is this (public) key's sign() of `data`: kPermissionDenied when
  // it is not.
  Status verify(std::string_view data, std::string_view signature) const;
  bool is_rsa() const;
  bool is_ec() const;
  // Modulus size for RSA, field size for EC (256, 384).
  int bits() const;

  // How keys are kept at rest: "-----BEGIN ENCRYPTED PRIVATE KEY-----", a PKCS#8
  // EncryptedPrivateKeyInfo with PBES2 (RFC 8018): PBKDF2 with HMAC-SHA256, a random
  // 16-byte salt and `iterations` rounds, deriving a 256-bit key for AES-256-CBC with a
  // random IV. `iterations` exists for tests that encrypt many keys; production code
  // keeps the default. Fails with kInvalidArgument without a private key, with an empty
  // passphrase or with iterations outside 1..kMaxKeyEncryptionIterations.
  Result<std::string> to_encrypted_pkcs8_pem(std::string_view passphrase,
                                             int iterations = kKeyEncryptionIterations) const;
  // The unencrypted PKCS#8 PrivateKeyInfo (DER): only for a key handed to its owner
  // at once over a secure channel (EST serverkeygen), or sealed (pki/sealed_box.h).
  // kPermissionDenied for a token key, kInvalidArgument without a private part.
  Result<std::string> to_pkcs8_der() const;
  // The former name of to_encrypted_pkcs8_pem(), same parameters.
  Result<std::string> to_pkcs8_encrypted_pem(std::string_view passphrase) const {
    return to_encrypted_pkcs8_pem(passphrase);
  }
  // The traditional encrypted PEM of IOS `crypto key export rsa ... pem`:
  // "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,..."
  // ("EC PRIVATE KEY" for EC). Its key derivation is a single MD5 round (EVP_BytesToKey):
  // for interoperability with IOS only, never for keys at rest. Single DES needs OpenSSL's legacy
  // provider and fails with kUnavailable without it. kInvalidArgument without a private key or
  // passphrase.
  Result<std::string> to_traditional_pem(std::string_view passphrase, PemCipher cipher) const;

  // DER SubjectPublicKeyInfo (computed once, when the Key is made).
  const std::string& public_key_der() const { return spki_der_; }
  // "-----BEGIN PUBLIC KEY-----" PEM of public_key_der().
  std::string public_pem() const;
  // True when both hold the same public key (type and value).
  bool equals_public(const Key& other) const;

  // Borrowed; valid while this Key (or a copy) lives. Do not modify it.
  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  Key(Ptr<EVP_PKEY> pkey, bool has_private, std::string spki_der);
  static Result<Key> make(Ptr<EVP_PKEY> pkey, bool has_private, std::string_view decoded_from = {});

  Ptr<EVP_PKEY> pkey_;
  bool has_private_ = false;
  std::string spki_der_;
  // Declared after pkey_: assignments replace pkey_ first, then release the old holder.
  std::shared_ptr<const void> holder_;
  std::string token_;
};

// The "Key Data:" block of `show crypto key mypubkey rsa`: the SubjectPublicKeyInfo DER
// in upper-case hex, groups of 8 digits, 8 groups per line, each line indented two
// spaces and ending in "\n":
//   "  30819F30 0D06092A 864886F7 0D010101 05000381 8D003081 89028181 00B4C4A6\n..."
std::string ios_key_data(const Key& key);

}  // namespace scepter::pki
