#pragma once
// TrustpointClient: what a router's trustpoint does as a SCEP client of its CA, for every
// `crypto pki trustpoint` of the device — `crypto pki authenticate` (fetch the CA's
// certificates, have the operator accept the root's fingerprint), `crypto pki enroll`
// (a key, a PKCS#10, PKCSReq) and the polling that follows (CertPoll every `enrollment
// retry period` minutes, at most `enrollment retry count` times). A subordinate CA and an
// RA obtain their own certificates through it too.
//
// State that must outlive a restart is kept per trustpoint in <dir>/<name>.tp (JSON,
// written atomically after every change): the authenticated certificates, the enrolled
// certificate, and a request in flight (its PKCS#10, transactionID, poll count and next
// poll time), so a restart mid-poll goes on polling the same request and never asks twice.
//
// Network calls never run under the client's lock: a trustpoint being enrolled or polled
// is marked busy, and a second enroll of it is refused meanwhile; show reads snapshots.
// Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ca/keystore.h"
#include "ca/upstream_ca.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pki/certificate.h"
#include "pki/csr.h"

namespace scepter::ca {

struct TrustpointConfig;

// Where a trustpoint stands, for `show crypto pki trustpoints status` and the certificate
// server that depends on it.
struct EnrollmentState {
  std::optional<UpstreamCertificates> ca;  // set by authenticate
  UpstreamCaps caps;
  // Ours, once the CA granted it: the general-purpose certificate, or with usage keys
  // (`rsakeypair LABEL SIZE ENC-SIZE`) the signature one.
  std::optional<pki::Certificate> certificate;
  // Usage keys: the certificate of the encryption key.
  std::optional<pki::Certificate> encryption_certificate;
  // The CA's rollover: its next certificates (GetNextCACert, checked against `ca`), and
  // ours under them or for after our current one ends (a rollover enrolment). Both take
  // the place of `ca` and `certificate` when the rollover certificate's validity begins
  // (promote_rollover).
  std::optional<UpstreamCertificates> next_ca;
  std::optional<pki::Certificate> rollover_certificate;
  // Usage keys: the rollover certificate of the encryption key.
  std::optional<pki::Certificate> rollover_encryption_certificate;
  // Where the rollover certificate's key waits when it is not the trustpoint's own key
  // (a new key), and the label it takes at promotion.
  std::string rollover_key_label;
  std::string rollover_key_target;
  // A request the CA has not decided yet: one PKCS#10, or with usage keys two (one per
  // key, each under its own transactionID), sent and polled together, as IOS does.
  struct Pending {
    struct Part {
      std::string csr_der;
      std::string transaction_id;
      std::string fingerprint_md5;  // of the PKCS#10, as IOS prints it
      bool delivered = false;       // the CA answered PENDING at least once
      bool encryption = false;      // usage keys: the encryption key's request
    };
    std::vector<Part> parts;       // the signature (or only) request first
    std::string key_label;         // the key the request certifies
    std::string signer_key_label;  // a renewal: the current certificate's key (signs)
    bool renewal = false;          // signed by the current certificate
    // A rollover enrolment: the certificate received becomes `rollover_certificate`, and
    // the key stays under `key_label` (the certificate server's shadow key).
    bool rollover = false;
    int polls = 0;  // CertPolls (or resends) after the first answer
    TimePoint next_attempt{};

    bool delivered() const {
      for (const Part& p : parts) {
        if (p.delivered) return true;
      }
      return false;
    }
    const std::string& fingerprint_md5() const { return parts.front().fingerprint_md5; }
  };
  std::optional<Pending> pending;
  // True when what the trustpoint enrolled is complete: a certificate, and with usage
  // keys the encryption certificate too.
  bool enrolled(bool usage_keys) const {
    return certificate.has_value() && (!usage_keys || encryption_certificate.has_value());
  }
  // True when the rollover certificate is complete: received, with usage keys the
  // encryption one too (no part of the rollover request still waits).
  bool rollover_granted() const {
    return rollover_certificate.has_value() && !(pending && pending->rollover);
  }
  // The latest thing that went wrong, for the operator ("cannot reach ...", "the CA
  // rejected the request: badRequest ..."). Cleared when a certificate arrives.
  std::string last_error;
  // `revocation-check crl`: when the CA's CRL was found to list `certificate` (cleared
  // when another certificate arrives); the last check, and why the last one failed (not
  // saved: a restart checks again).
  std::optional<TimePoint> revoked_at;
  TimePoint crl_checked{};
  std::string crl_error;
};

// What `crypto pki enroll` (or a server's own enrolment) asks for.
struct EnrollOptions {
  std::string challenge_password = {};  // empty: none
  bool include_serial = false;          // serialNumber in the subject
  std::string ip_address = {};          // unstructuredAddress in the subject; empty: none
  // The subject; empty: the trustpoint's subject-name with the router's FQDN, as IOS.
  std::string subject = {};
  // A subordinate CA asks for basicConstraints CA:TRUE and keyCertSign+cRLSign.
  bool ca_request = false;
  // An RA's own certificate: the subject must name the RA role (cn= or ou= "ioscs RA"),
  // as the seed requires, or the issuing CA cannot tell the RA from a router.
  bool ra_request = false;
  int key_bits = 2048;  // when the key must be generated
};

// The outcome of one exchange with the CA.
struct EnrollResult {
  UpstreamReply::Status status = UpstreamReply::Status::kPending;
  std::string fingerprint_md5;  // of the request (with usage keys, the signature one)
  std::string fingerprint_sha1;
  // Usage keys: the encryption key's request.
  std::string encryption_fingerprint_md5 = {};
  std::string encryption_fingerprint_sha1 = {};
  std::optional<pki::Certificate> certificate;  // kSuccess
  std::string error;                            // kFailure: why (the CA's words)
};

class TrustpointClient {
 public:
  // How often `revocation-check crl` fetches the CA's CRL.
  static constexpr Seconds kCrlCheckInterval{3600};

  // Reads the saved state of every trustpoint in `dir`. A file that cannot be read is
  // logged and skipped (that trustpoint starts unauthenticated), never fatal.
  TrustpointClient(KeyStore& keys, Clock& clock, std::string dir,
                   std::shared_ptr<UpstreamCa> upstream);
  ~TrustpointClient();

  // Called (without the client's lock) after a trustpoint received its certificate or
  // was refused, e.g. to let a subordinate CA finish enabling. Set once, before use.
  void on_change(std::function<void(const std::string& name)> fn) { on_change_ = std::move(fn); }

  // `crypto pki authenticate`, step 1: GetCACaps and GetCACert from the trustpoint's
  // enrollment url. Nothing is stored. kPermissionDenied without an enrollment url or
  // a SCEP client; the upstream's errors as UpstreamCa says.
  struct Fetched {
    UpstreamCaps caps;
    UpstreamCertificates certificates;
  };
  Result<Fetched> fetch_ca(const TrustpointConfig& tp, const std::string& ident);
  // Step 2: the operator accepted them. Replaces what the trustpoint had (a certificate
  // enrolled under another CA is dropped with it).
  Status accept_ca(const std::string& name, const Fetched& fetched);

  // `crypto pki enroll`: builds the request with the trustpoint's key (generated when
  // missing; without `rsakeypair`, the key named `fqdn`, the router's default key as on
  // IOS), sends PKCSReq and records the answer. `fqdn` (Device::fqdn()) is also the
  // subject's unstructuredName. A PENDING answer or an unreachable
  // CA leaves the request to tick(). kPermissionDenied when not authenticated, when a
  // request is already in flight, or without a SCEP client.
  Result<EnrollResult> enroll(const TrustpointConfig& tp, const EnrollOptions& options,
                              const std::string& fqdn);
  // Drops a request in flight (`no crypto pki enroll`); the CA is not told.
  Status cancel(const std::string& name);

  // A certificate server's rollover (subordinate CA or RA): a new certificate for the key
  // `key_label` (generated when missing, as `options.key_bits`), with the subject of the
  // current certificate, signed by the current certificate, for after the current one
  // ends. The certificate, once granted, is kept as `rollover_certificate`.
  // With usage keys, a new pair of them (of the current sizes) and two requests, as for an
  // enrolment. kPermissionDenied without a current certificate or with a request in
  // flight.
  Result<EnrollResult> enroll_rollover(const TrustpointConfig& tp, const EnrollOptions& options,
                                       const std::string& key_label);
  // The rollover certificate becomes the trustpoint's certificate, and the CA's next
  // certificates (when it was issued under them) its CA. No-op when there is none; the key
  // is the caller's to move.
  Status promote_rollover(const std::string& name);
  // Forgets the rollover request in flight and the rollover certificate.
  Status cancel_rollover(const std::string& name);

  // Polls every request whose time has come. `config` gives a trustpoint's current
  // configuration (nullopt: removed, so its state is forgotten).
  // With `auto-enroll`, also enrols an authenticated trustpoint that has no certificate
  // (nor a refusal on record), and renews a certificate when its time has come.
  void tick(const std::function<std::optional<TrustpointConfig>(const std::string&)>& config,
            const std::string& fqdn);

  std::optional<EnrollmentState> state(const std::string& name) const;
  // `no crypto pki trustpoint`: forgets the trustpoint's certificates and request.
  Status forget(const std::string& name);

 private:
  Status save(const std::string& name, const EnrollmentState& state) const;
  std::string path_of(const std::string& name) const;
  // `revocation-check crl`: fetches the CA's CRL and looks for the trustpoint's
  // certificate in it, outside the lock.
  void check_revocation(const TrustpointConfig& tp, const std::string& name);
  // One exchange for each part of `pending` still waiting, outside the lock; updates the
  // stored state.
  EnrollResult exchange(const TrustpointConfig& tp, const std::string& name);
  // One part's exchange; `key` certifies, `signer` signs (the current certificate's key
  // for a renewal).
  Result<UpstreamReply> send_part(const TrustpointConfig& tp, const std::string& name,
                                  const EnrollmentState& snapshot,
                                  const EnrollmentState::Pending::Part& part,
                                  const pki::Key& signer);
  // The PKCS#10s of a request for `key`: one, or with usage keys one per key, each
  // asking for its key usage.
  Result<std::vector<EnrollmentState::Pending::Part>> make_requests(
      const TrustpointConfig& tp, const X509_NAME* subject, const KeyEntry& key,
      const std::vector<const X509_EXTENSION*>& extensions, const std::string& challenge) const;
  // The extensions `options` asks for (a CA's basicConstraints and keyUsage).
  static Result<std::vector<pki::Ptr<X509_EXTENSION>>> request_extensions(
      const EnrollOptions& options);
  // A new key for `label`: usage keys when `encryption_bits` > 0.
  Result<KeyEntry> generate_key(const std::string& label, int bits, int encryption_bits) const;
  // `auto-enroll`: a renewal of the current certificate (same subject, signed by it).
  Status start_renewal(const TrustpointConfig& tp, const std::string& fqdn);
  // The CA's next certificates (GetNextCACert), checked against what the trustpoint
  // authenticated; recorded as `next_ca`.
  Result<UpstreamCertificates> fetch_next_ca(const TrustpointConfig& tp, const std::string& name,
                                             const UpstreamCertificates& current);
  // Records a new request in flight and makes the first exchange.
  Result<EnrollResult> submit(const TrustpointConfig& tp, EnrollmentState::Pending pending);
  bool claim(const std::string& name);
  void release(const std::string& name);
  // Releases a trustpoint claimed with claim() at the end of a scope.
  struct ReleaseOnExit {
    TrustpointClient* self;
    std::string name;
    ~ReleaseOnExit() { self->release(name); }
  };

  KeyStore& keys_;
  Clock& clock_;
  const std::string dir_;
  const std::shared_ptr<UpstreamCa> upstream_;
  std::function<void(const std::string&)> on_change_;

  mutable Mutex mu_;
  std::map<std::string, EnrollmentState> states_ GUARDED_BY(mu_);
  std::set<std::string> busy_ GUARDED_BY(mu_);
};

// The subject a trustpoint asks for: `subject` when given, else the subject-name
// followed by hostname=FQDN (and serialNumber=, ipaddress= when asked), as IOS builds it.
Result<std::string> enrollment_subject(const TrustpointConfig& tp, const EnrollOptions& options,
                                       const std::string& fqdn);

// An RA's own request must name the RA role (cn= or ou= "ioscs RA"); kInvalidArgument
// with what to configure otherwise.
Status check_ra_subject(const X509_NAME* subject, const std::string& trustpoint);

}  // namespace scepter::ca
