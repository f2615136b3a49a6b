#pragma once
// A sealed box: a secret kept at rest for whoever holds a private key, sealed with the
// public half and opened only with the private half (EST serverkeygen keeps a generated
// key this way while its request waits for the operator).
//
//   - RSA: a fresh AES-256 key, transported with RSAES-PKCS1-v1_5, the padding every
//     PKCS#11 token decrypts. Boxes are opened only for what the CA stored itself, never
//     for bytes a client sent, so nobody gets to ask the padding question.
//   - EC: ephemeral-static ECDH on the recipient's curve, the shared secret through
//     HKDF-SHA256 (the ephemeral public key as info) to an AES-256 key.
//   - The secret: AES-256-GCM under that key, with `context` as additional data: a box
//     opens only for the context it was sealed for (the request it belongs to), and
//     any changed byte makes it refuse.
//
// Layout: version (1), kind (1 RSA, 2 EC), a 16-bit big-endian length and that many
// bytes of key transport (RSA ciphertext; EC: the ephemeral SubjectPublicKeyInfo), a
// 12-byte IV, a 16-byte tag, the ciphertext.

#include <string>
#include <string_view>

#include "common/status.h"
#include "pki/key.h"

namespace scepter::pki {

// kInvalidArgument for a key that is neither RSA nor EC.
Result<std::string> seal(std::string_view secret, const Key& recipient, std::string_view context);
// kInvalidArgument when the box is malformed, was sealed for another key or context, or
// was changed; kUnavailable when the private key cannot be used (a token gone).
Result<std::string> unseal(std::string_view box, const Key& recipient, std::string_view context);

}  // namespace scepter::pki
