#pragma once
// PKCS#12 files: the CA archive (`database archive pkcs12`), `crypto pki export|import
// <trustpoint> pkcs12`, and key backups.
//
// Thread-safe: the functions share no state.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace scepter::pki {

// How the key and certificate bags are protected.
// Both spend the same iteration count (make_pkcs12's `iterations`, by default
// kKeyEncryptionIterations = 600,000) on the key bag, the certificate bag and the MAC:
// the MAC's key derivation must cost as much as the key's, or it becomes the cheap way
// to test guessed passphrases.
enum class Pkcs12Cipher {
  // PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256 (8-byte salts), MAC with HMAC-SHA256:
  // OpenSSL 3's choice, with a stronger iteration count. `openssl pkcs12 -info -in f.p12
  // -passin pass:...` reads it with OpenSSL 1.1.1 or later (1.0.x cannot).
  kAes256,
  // pbeWithSHA1And3-KeyTripleDES-CBC for key and certificates, MAC with HMAC-SHA1: for
  // old importers (older IOS images, Windows before 2019) only, never for files we keep.
  // OpenSSL 3 reads it without -legacy.
  kTripleDes,
};

// A PKCS#12 with the key, the certificate (both tagged with `friendly_name` when it is
// not empty, and a shared localKeyId) and the chain certificates. `iterations` is there
// for tests that build many files; production code keeps the default (about 0.6 s of one
// core per file). Fails with kInvalidArgument when the passphrase is empty, the key has
// no private part or does not match the certificate, or iterations is outside
// 1..kMaxKeyEncryptionIterations. A key on a token (Key::token()) never leaves it: the
// PKCS#12 then holds the certificate and the chain alone.
Result<std::string> make_pkcs12(const Certificate& cert, const Key& key,
                                std::string_view passphrase, std::string_view friendly_name,
                                const std::vector<Certificate>& chain = {},
                                Pkcs12Cipher cipher = Pkcs12Cipher::kAes256,
                                int iterations = kKeyEncryptionIterations);

struct Pkcs12Contents {
  Key key;
  Certificate cert;                // the certificate that matches the key
  std::vector<Certificate> chain;  // the other certificates, in file order
};

// Reads a DER PKCS#12 (also the legacy RC2-40 files older exporters write, when
// OpenSSL's legacy provider is installed). Fails with kPermissionDenied when the
// passphrase is wrong, kInvalidArgument for bytes that are not PKCS#12, a file without
// a key and its certificate, or a MAC asking for more than kMaxKeyEncryptionIterations.
Result<Pkcs12Contents> parse_pkcs12(std::string_view der, std::string_view passphrase);

}  // namespace scepter::pki
