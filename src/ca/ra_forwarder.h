#pragma once
// RaForwarder: what a certificate server in RA mode (`mode ra [transparent]`) does with a
// request it granted — sends it to the issuing CA in the RA's own name, and checks what
// comes back before a client may have it.
//
// The PKCS#10 that goes upstream is, with `transparent`, the client's own, byte for byte;
// otherwise the same subject, key and requested extensions without the challengePassword
// (the RA's one-time password, which is no business of the issuing CA), signed by the RA
// key (docs/decisions.md). Either way the PKIMessage is signed by the RA certificate and
// carries the client's transactionID, so a resend or a poll after a restart is the same
// transaction upstream.
//
// A certificate from upstream is handed on only if it certifies the request's key, is
// signed by the issuing CA the operator authenticated, and is not a CA certificate.
//
// Thread-safe.

#include <optional>
#include <string>
#include <unordered_map>

#include "ca/upstream_ca.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "store/store.h"

namespace scepter::ca {

// The issuing CA's answer, checked.
struct Forwarded {
  UpstreamReply::Status status = UpstreamReply::Status::kPending;
  std::optional<pki::Certificate> certificate;         // kSuccess
  ScepFailInfo fail_info = ScepFailInfo::kBadRequest;  // kFailure
  std::string fail_text;                               // kFailure, as the CA said it
};

class RaForwarder {
 public:
  RaForwarder(UpstreamCa& upstream, Clock& clock, pki::Certificate ra_cert, pki::Key ra_key,
              bool transparent);

  // The PKCS#10 the issuing CA receives for `client`.
  Result<std::string> upstream_csr(const pki::Csr& client) const;

  // PKCSReq (poll = false) or CertPoll for one request. Errors are UpstreamCa's
  // (kUnavailable: try again later), and kInvalidArgument for an answer that is not
  // usable (no certificate for the request's key, a CA certificate, not the issuing CA's).
  Result<Forwarded> send(const UpstreamTarget& target, const pki::Csr& client,
                         const std::string& transaction_id, bool poll);

  // Whether request `id` may go upstream now: not within `gap` of its last exchange. When
  // it may, now becomes its last exchange. Bounds what client polls and the timer make
  // the RA send upstream.
  bool claim_exchange(store::RequestId id, Seconds gap);
  // The request is closed: nothing more goes upstream for it.
  void forget(store::RequestId id);

  // False for kUnreachableBackoff after the issuing CA could not be reached: requests
  // then wait without each spending a connect timeout (and an HTTP worker) on it.
  bool reachable() const;
  static constexpr Seconds kUnreachableBackoff{10};

  const pki::Certificate& certificate() const { return ra_cert_; }

 private:
  Result<pki::Certificate> check_issued(const UpstreamTarget& target, const pki::Csr& client,
                                        const UpstreamReply& reply) const;

  UpstreamCa& upstream_;
  Clock& clock_;
  const pki::Certificate ra_cert_;
  const pki::Key ra_key_;
  const bool transparent_;

  mutable Mutex mu_;
  std::unordered_map<store::RequestId, TimePoint> last_exchange_ GUARDED_BY(mu_);
  TimePoint unreachable_until_ GUARDED_BY(mu_){};
};

}  // namespace scepter::ca
