#pragma once
// GetNextCACert (RFC 8894 §4.7): the answer a CA gives while it rolls over to a new key,
// and the check a client makes of it.
//
// The answer, `application/x-x509-next-ca-cert`, is a SignedData (eContentType id-data,
// content embedded) signed by the current CA key, or by the current RA signing
// certificate when an RA answers, with the signer certificate included. Its content is
// the DER of a degenerate certs-only SignedData holding the rollover CA certificate, the
// rollover RA certificates and, for a subordinate CA, its new chain.
//
// The client trusts an answer only when its one signer is the current CA or the RA
// signing certificate GetCACert named, and the signature verifies with the certificate
// the client already holds (certificates inside the answer are never used to verify it).
//
// Thread safety: both functions build their own OpenSSL objects and only read the
// certificates and keys given, so any number of threads may call them at once, sharing
// certificates and keys.

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pki/certificate.h"
#include "pki/key.h"

namespace scepter::scep {

inline constexpr std::string_view kNextCaCertContentType = "application/x-x509-next-ca-cert";
// Larger answers are refused before they are parsed.
inline constexpr std::size_t kMaxNextCaAnswerBytes = 64 * 1024;
// Most certificates one answer may carry (CA, RA signature and encryption, a chain).
inline constexpr std::size_t kMaxNextCaCertificates = 8;

// The DER answer: a SHA-256 SignedData by `signer_cert` / `signer_key` (the current CA,
// or the current RA signing certificate) with `signer_cert` included and signingTime
// `signing_time`, around the certs-only SignedData of `next_certs` in their order (the
// rollover CA certificate first). Fails with kInvalidArgument when `next_certs` is empty
// or longer than kMaxNextCaCertificates, when `signer_key` has no private part or is not
// the key of `signer_cert`; kInternal when OpenSSL fails otherwise.
Result<std::string> encode_next_ca_cert(const std::vector<pki::Certificate>& next_certs,
                                        const pki::Certificate& signer_cert,
                                        const pki::Key& signer_key, std::time_t signing_time);

// Whom a client accepts a GetNextCACert answer from.
struct NextCaTrust {
  // The current issuing CA, as authenticated.
  pki::Certificate ca;
  // The RA signing certificate GetCACert returned, when an RA answers for the CA. It must
  // be issued by `ca`. No other certificate `ca` issued is accepted as a signer: a router
  // certificate from the same CA must not be able to announce a new CA.
  std::optional<pki::Certificate> ra_signer = std::nullopt;
};

// Checks a GetNextCACert answer (DER, or BER as streaming encoders write it) and returns
// the certificates it carries, in the sender's order. Fails with kInvalidArgument, with
// a message that says what is wrong, when the input is over kMaxNextCaAnswerBytes (before
// any parsing), is not a CMS SignedData, is a certs-only SignedData without a signature
// (the shape jscep#72 sent), has no or several signers or no embedded id-data content,
// is signed by anyone but `trusted.ca` or `trusted.ra_signer`, fails signature
// verification, has trailing bytes, or carries no certificate, more than
// kMaxNextCaCertificates, or content that is not a certs-only SignedData; also when
// `trusted.ra_signer` is not issued by `trusted.ca`. Never returns a certificate of an
// answer whose signature was not verified.
Result<std::vector<pki::Certificate>> decode_next_ca_cert(std::string_view der,
                                                          const NextCaTrust& trusted);

}  // namespace scepter::scep
