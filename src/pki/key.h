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

#include <string>
#include <string_view>

#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::pki {

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
  // there is no usable key.
  static Result<Key> from_pem(std::string_view pem, std::string_view passphrase = {});
  // A public-only key from a DER SubjectPublicKeyInfo. kInvalidArgument on bad bytes.
  static Result<Key> from_public_der(std::string_view spki_der);
  // Takes ownership of an EVP_PKEY (public or private). Fails with kInvalidArgument if
  // it is null or its public key cannot be encoded.
  static Result<Key> from_evp(Ptr<EVP_PKEY> pkey);

  Key(const Key& other);
  Key& operator=(const Key& other);
  Key(Key&&) noexcept = default;
  Key& operator=(Key&&) noexcept = default;
  ~Key() = default;

  bool has_private() const { return has_private_; }
  bool is_rsa() const;
  bool is_ec() const;
  // Modulus size for RSA, field size for EC (256, 384).
  int bits() const;

  // PKCS#8 encrypted with PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256): how keys are kept at
  // rest. Fails with kInvalidArgument without a private key or with an empty passphrase.
  Result<std::string> to_pkcs8_encrypted_pem(std::string_view passphrase) const;
  // The traditional encrypted PEM of IOS `crypto key export rsa ... pem`:
  // "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,..."
  // ("EC PRIVATE KEY" for EC). Single DES needs OpenSSL's legacy provider and fails with
  // kUnavailable without it. kInvalidArgument without a private key or passphrase.
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
  static Result<Key> make(Ptr<EVP_PKEY> pkey, bool has_private);

  Ptr<EVP_PKEY> pkey_;
  bool has_private_ = false;
  std::string spki_der_;
};

// The "Key Data:" block of `show crypto key mypubkey rsa`: the SubjectPublicKeyInfo DER
// in upper-case hex, groups of 8 digits, 8 groups per line, each line indented two
// spaces and ending in "\n":
//   "  30819F30 0D06092A 864886F7 0D010101 05000381 8D003081 89028181 00B4C4A6\n..."
std::string ios_key_data(const Key& key);

}  // namespace scepter::pki
