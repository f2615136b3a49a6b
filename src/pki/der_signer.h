#pragma once
// Signing a to-be-signed structure built as DER bytes (a TBSCertificate, a TBSCertList):
// X.509's SEQUENCE { tbs, signatureAlgorithm, signatureValue BIT STRING }, the way
// X509_sign and X509_CRL_sign do it, without building OpenSSL objects that are encoded
// again (and whose keys OpenSSL 3 decodes again) on the way. Internal to pki/.
//
// Use: start() with the key and digest, put algorithm() inside the TBS where it belongs,
// build the TBS at offset outer_room() of a string, and finish() that string.
//
// A DerSigner holds one signing context: one signature, from one thread.

#include <cstddef>
#include <string>

#include <openssl/evp.h>

#include "common/metrics.h"
#include "common/status.h"
#include "pki/ptr.h"

namespace scepter::pki {

class DerSigner {
 public:
  // Fails with kInvalidArgument when `key` cannot sign with `md` (null: the key's default
  // digest, for keys such as Ed25519 that take none); `what` names the object in messages.
  static Result<DerSigner> start(EVP_PKEY* key, const EVP_MD* md, const char* what);

  // A signer ready as this one was after start(), without fetching the algorithms and
  // setting up the key again: a tenth of a signature's cost less for an object signed
  // often (an OCSP response). Safe to call from several threads at once on a signer that
  // none of them finishes. kInternal when OpenSSL cannot copy the context.
  Result<DerSigner> copy() const;

  // The AlgorithmIdentifier DER the signature will carry: the provider's (what X509_sign
  // writes), or OpenSSL's table with NULL parameters for RSA (RFC 4055) and none for
  // ECDSA (RFC 5758) when the provider does not say.
  const std::string& algorithm() const { return algorithm_; }

  // Bytes to leave in front of a TBS of `tbs_len` bytes for the outer SEQUENCE header.
  std::size_t outer_room(std::size_t tbs_len) const;

  // `out` holds outer_room(n) bytes of room, then an n-byte TBS TLV. Signs the TBS,
  // appends the algorithm and the signature BIT STRING, writes the outer header and
  // returns the signed structure (moving the bytes only when an ECDSA signature came out
  // short enough to shrink the header).
  Result<std::string> finish(std::string out, std::size_t room);

 private:
  DerSigner(Ptr<EVP_MD_CTX> ctx, std::string algorithm, std::size_t max_signature, const char* what,
            metrics::Histogram& timing)
      : ctx_(std::move(ctx)),
        algorithm_(std::move(algorithm)),
        max_signature_(max_signature),
        what_(what),
        timing_(&timing) {}

  Ptr<EVP_MD_CTX> ctx_;
  std::string algorithm_;
  std::size_t max_signature_ = 0;
  const char* what_;
  metrics::Histogram* timing_;  // the signatures' durations, for /metrics
};

}  // namespace scepter::pki
