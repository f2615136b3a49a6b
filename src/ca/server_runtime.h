#pragma once
// Private to ca/: the state a CertificateServer has only while enabled.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ca/certificate_server.h"
#include "ca/crl_publisher.h"
#include "ca/issuer.h"
#include "ca/ocsp_responder.h"
#include "ca/otp_store.h"
#include "ca/ra_forwarder.h"
#include "pki/crl.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "store/store.h"

namespace scepter::ca {

// A clock before this is not calendar-valid: the CA would issue certificates from the
// past. IOS refuses to start the server in that case ("Time has not been set").
inline constexpr std::int64_t kEarliestValidTime = 1577836800;  // 2020-01-01T00:00:00Z

// Meta keys in the main database.
inline constexpr const char* kMetaCaCert = "ca_cert";
// mode ra with usage keys: the RA's encryption certificate (DER).
inline constexpr const char* kMetaRaEncryptionCert = "ra_encryption_cert";
// A CA's `scep encryption-key`: the certificate it issued to that key (it is also in the
// certificates table, under its serial).
inline constexpr const char* kMetaScepEncryptionCert = "scep_encryption_cert";
// `ocsp responder-key`: the delegated OCSP responder's current certificate.
inline constexpr const char* kMetaOcspResponderCert = "ocsp_responder_cert";
// Followed by ":" and the node's name (CertificateServer::https_certificate).
inline constexpr const char* kMetaHttpsServerCert = "https_server_cert";
inline constexpr const char* kMetaCrlNumber = "crl_number";
// Several nodes on one database: the current CRL (DER) and the node that published it.
inline constexpr const char* kMetaCrlDer = "crl_der";
inline constexpr const char* kMetaCrlPublisher = "crl_publisher";
// The store's serial floor: the allocator starts above it when the database opens.
inline constexpr const char* kMetaLastSerial = "last_serial";
// A CA moved from another server (`serial-number`): the revocations of certificates it
// issued there, which this database does not hold (crl_publisher.h), and the last serial
// it issued there.
inline constexpr const char* kMetaForeignRevocations = "foreign_revocations";
inline constexpr const char* kMetaAdoptedSerial = "adopted_serial";
// Rollover stage two: the shadow CA certificate (DER); its key is LABEL.rollover.
inline constexpr const char* kMetaRolloverCert = "rollover_cert";
// An RA with usage keys: the shadow's encryption certificate (DER).
inline constexpr const char* kMetaRolloverRaEncryptionCert = "rollover_ra_encryption_cert";
inline constexpr const char* kMetaOtp = "otp";  // "<sha256 hex> <expiry unix>"
inline constexpr const char* kMetaArchived = "archived";
// "1" once the server generated its own key (a subordinate CA's certificate, and so its
// archive, may come in a later run than the key).
inline constexpr const char* kMetaKeyGenerated = "key_generated";

// RequestRecord::flags: bits 0-1 are the RequestSource; this one says that an RA sent
// the request to the issuing CA (so a restart polls for it rather than sending it again).
inline constexpr int kFlagSentUpstream = 4;
// A rollover request: issued under the shadow CA key while one exists (signed by a valid
// certificate of ours during the overlap, or `rollover request pkcs10`).
inline constexpr int kFlagRollover = 8;

// The database record of a certificate kept under our serial `serial` (the CA's own, a
// rollover CA certificate, or what an RA handed out).
store::CertRecord certificate_record(const pki::Certificate& cert, Serial serial);

// The serials spent: the largest stored, or the floor above which new ones start (a CA
// moved here: the last it issued where it came from), whichever is larger
// (server_storage.cpp).
Result<Serial> serials_used(const store::Store& store);

// /metrics: certificates this process issued (committed) and revoked for the CA `label`.
metrics::Counter& issued_counter(const std::string& label);
metrics::Counter& revoked_counter(const std::string& label);

// Rollover (`rollover`, `auto-rollover`) of a server on a database several nodes share is
// refused with this: the shadow key would be on one node only (server_rollover.cpp).
Status shared_rollover_refused(const std::string& label);

// A certificate the CA issues to one of its own keys (CertificateServer::
// service_certificate): where it is kept besides the certificates table, the OU its
// subject adds to the CA's, and how long it lives (nullopt: as long as the CA
// certificate; otherwise it is renewed with a third of it left).
struct ServiceCert {
  const char* meta;
  const char* unit;
  const char* what;  // for the log
  pki::ServiceRole role;
  std::optional<Seconds> lifetime;
};
inline const ServiceCert kScepEncryptionCert{kMetaScepEncryptionCert, "SCEP encryption",
                                             "SCEP encryption certificate",
                                             pki::ServiceRole::kScepEncryption, std::nullopt};
// Short-lived: relying parties never ask whether it was revoked (ocsp-nocheck).
inline constexpr int kOcspResponderDays = 30;
inline const ServiceCert kOcspResponderCert{
    kMetaOcspResponderCert, "OCSP responder", "OCSP responder certificate",
    pki::ServiceRole::kOcspSigning, std::chrono::days(kOcspResponderDays)};

// The HTTPS listener's own certificate (CertificateServer::https_certificate): short-lived
// like the responder's, so that a name change or a lost key ages out soon.
inline constexpr int kHttpsServerDays = 90;
inline const ServiceCert kHttpsServerCert{kMetaHttpsServerCert, "HTTPS server",
                                          "HTTPS server certificate", pki::ServiceRole::kTlsServer,
                                          std::chrono::days(kHttpsServerDays)};
// What a kTlsServer certificate names, and the meta key it is kept under.
struct ServiceNames {
  std::vector<std::string> dns;
  std::vector<std::string> ip;
  std::string meta;
};

// A request still waiting for a decision (pending, authorized, initial).
bool is_open_state(RequestState s);
RequestClass request_class(const pki::Csr& csr);

// The answers a SCEP CertRep carries (server_scep.cpp).
ScepOutcome scep_failure(ScepFailInfo info, std::string text, RequestId id = 0);
ScepOutcome scep_pending(RequestId id);
ScepOutcome scep_success(pki::Certificate cert, RequestId id);
// kGrant needs the certificate.
ScepOutcome scep_outcome(const Decision& d, std::optional<pki::Certificate> cert, RequestId id);

// Parsed certificates of this CA that signed requests, by their DER. Bounded: when full it
// starts over. Thread-safe.
class SignerCache {
 public:
  std::optional<pki::Certificate> find(std::string_view der) const {
    MutexLock lock(mu_);
    auto it = map_.find(std::string(der));
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void add(std::string_view der, const pki::Certificate& cert) {
    MutexLock lock(mu_);
    if (map_.size() >= kMaxEntries) map_.clear();
    map_.emplace(std::string(der), cert);
  }
  static constexpr std::size_t kMaxEntries = 256;

 private:
  mutable Mutex mu_;
  std::unordered_map<std::string, pki::Certificate> map_ GUARDED_BY(mu_);
};

struct CertificateServer::Runtime {
  std::unique_ptr<store::Store> store;
  // Set by enable() before the runtime is published; immutable afterwards.
  std::optional<pki::Certificate> ca_cert;
  std::optional<pki::Key> ca_key;
  // mode sub-cs: the superior CAs, issuing first, up to the root.
  std::vector<pki::Certificate> upper_chain;
  // The certificate and key clients encrypt their SCEP requests to, when the CA (or RA)
  // certificate does not take them itself: an RA's usage keys (mode ra), or a CA's
  // `scep encryption-key`. Absent: ca_cert and ca_key do both.
  std::optional<pki::Certificate> encryption_cert;
  std::optional<pki::Key> encryption_key;

  // Set by enable() before the runtime is published. A CA has an issuer and a CRL; an
  // RA (mode ra) has neither, and a forwarder instead.
  std::unique_ptr<Issuer> issuer;
  std::unique_ptr<RaForwarder> forwarder;
  std::unique_ptr<OtpStore> otp;

  SignerCache signers;

  // Request state transitions (grant/reject/remove/expire) are serialised here so that
  // a request is never granted twice.
  Mutex request_mu;

  // SCEP requests with the same transactionID are serialised on one of these stripes, so
  // a retry never creates a second request; different transactions run in parallel.
  static constexpr std::size_t kTransactionStripes = 64;
  Mutex transaction_mu[kTransactionStripes];

  // The CRL: revocations and CRL builds are serialised.
  std::unique_ptr<CrlPublisher> crl;
  // A CA's OCSP answers (none in RA mode). Made at enable() whether or not `ocsp` is on,
  // so that `ocsp` takes effect at once; replaced when a delegated responder's
  // certificate is renewed, and shared with requests in flight.
  std::shared_ptr<OcspResponder> ocsp_responder() const {
    MutexLock lock(ocsp_mu);
    return ocsp;
  }
  void set_ocsp(std::shared_ptr<OcspResponder> next) {
    MutexLock lock(ocsp_mu);
    ocsp = std::move(next);
  }

  TimePoint last_expiry_check GUARDED_BY(request_mu){};
  // When the database was last checkpointed (timer thread only).
  std::atomic<std::int64_t> last_checkpoint{0};
  // The OCSP responder certificate's renewal after failures (timer thread only): failed
  // tries in a row, and when the next one may run (unix seconds).
  std::atomic<int> ocsp_renewal_failures{0};
  std::atomic<std::int64_t> ocsp_renewal_retry_at{0};
  // mode ra: when poll_upstream() last looked for requests due upstream (unix seconds).
  std::atomic<std::int64_t> last_upstream_scan{0};

  // Rollover: the shadow CA certificate and key between stage two and stage three.
  // rollover_op_mu serialises making, cancelling and activating it (key generation runs
  // under it); readers take the pointer under rollover_mu only.
  struct Shadow {
    pki::Certificate cert;
    pki::Key key;
    // Issues rollover certificates: valid from the shadow's start (none in RA mode).
    std::shared_ptr<Issuer> issuer;
    // A subordinate CA's or an RA's: the certificates above it, up to the root (the
    // superior's next ones when the superior rolls over too).
    std::vector<pki::Certificate> chain = {};
    // An RA with usage keys: the next encryption certificate (the key is the encryption
    // pair of LABEL.rollover).
    std::optional<pki::Certificate> encryption_cert = std::nullopt;
  };
  Mutex rollover_op_mu;
  std::shared_ptr<const Shadow> shadow() const {
    MutexLock lock(rollover_mu);
    return rollover;
  }
  void set_shadow(std::shared_ptr<const Shadow> next) {
    MutexLock lock(rollover_mu);
    rollover = std::move(next);
  }
  // When the timer last tried stage two and failed (unix seconds): retried hourly.
  std::atomic<std::int64_t> last_rollover_attempt{0};
  // A subordinate CA's rollover: the archive password given at the console for the
  // shadow the superior has not granted yet (not saved: after a restart the configured
  // one, or the console again).
  std::string rollover_password GUARDED_BY(rollover_op_mu);

 private:
  mutable Mutex ocsp_mu;
  std::shared_ptr<OcspResponder> ocsp GUARDED_BY(ocsp_mu);
  mutable Mutex rollover_mu;
  std::shared_ptr<const Shadow> rollover GUARDED_BY(rollover_mu);
};

// CertificateServer::gauges(): the database counts, and the thread reading them.
struct CertificateServer::GaugeCounts {
  struct Read {
    std::chrono::steady_clock::time_point at;
    std::weak_ptr<Runtime> runtime;  // the runtime they were read from
    std::optional<std::uint64_t> certificates, pending, authorized;
  };
  Mutex mu;
  std::condition_variable done;  // a read ended
  std::optional<Read> last GUARDED_BY(mu);
  bool reading GUARDED_BY(mu) = false;
};

}  // namespace scepter::ca
