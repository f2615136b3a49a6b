#pragma once
// CertificateServer: one `crypto pki server LABEL`. It owns the CA certificate and key
// (once generated), the main database (LABEL.ser), the request database, issuing,
// revocation and the CRL, and the one-time enrollment password.
//
// It is a facade over parts with one job each: the request policy (request_policy.h)
// decides, the Issuer (issuer.h) makes and commits certificates, OtpStore keeps the
// one-time password, and the life cycle (life_cycle.h, docs/life-cycle.md) is an
// explicit state table. The first `no shutdown` generates the key (if LABEL has none),
// the self-signed CA certificate (serial 1), the archive and the first CRL — outside the
// server's lock, so `show` and SCEP are never blocked by it.
//
// Thread safety: every public method is safe to call from several threads (CLI
// sessions, SCEP requests, the timer thread). Serials come from the store; signing holds
// no lock; revocations and CRL builds are serialised by the CRL lock.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ca/audit_log.h"
#include "ca/crl_publisher.h"
#include "ca/events.h"
#include "ca/issuer.h"
#include "ca/keystore.h"
#include "ca/life_cycle.h"
#include "ca/otp_store.h"
#include "ca/request_policy.h"
#include "ca/server_config.h"
#include "ca/tokens.h"
#include "ca/trustpoint_client.h"
#include "ca/upstream_ca.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/status.h"
#include "files/file_set.h"
#include "pki/certificate.h"
#include "pki/crl.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "store/store.h"

namespace scepter::ca {

class OcspResponder;
struct ServiceCert;
struct ServiceNames;

using store::RequestId;
using store::RequestRecord;
using store::RequestState;
using store::Serial;

// Where a request came from and how its certificate is shown when granted.
enum class RequestSource { kManualBase64 = 0, kManualPem = 1, kScep = 2, kAcme = 3 };

struct EnableOptions {
  std::string archive_password = {};  // when the config has none and an archive is written
  // mode sub-cs: the operator's `no shutdown` asks the superior CA for the CA certificate
  // when none is on its way (a restart or the timer only waits for one already asked).
  bool request_superior = false;
};

// What happened during enable(), for the CLI to print in IOS words.
struct EnableReport {
  bool generated_key = false;
  int key_bits = 0;
  bool generated_ca = false;
  bool archived = false;
  std::string archive_skipped_reason;
  // The CA key is on this token: the archive holds the certificate alone.
  std::string key_on_token;
  // `scep encryption-key`: the key was generated now (its size), and a certificate was
  // issued to it now (its serial, hex).
  int generated_encryption_key_bits = 0;
  std::string encryption_key_on_token;
  std::string issued_encryption_serial;
  // mode sub-cs: the CA certificate was requested from the superior CA (fingerprint of
  // the request, MD5).
  bool requested_superior = false;
  std::string request_fingerprint;
};

struct IssuedCertificate {
  RequestId request_id = 0;
  RequestSource source = RequestSource::kManualBase64;
  pki::Certificate certificate;
};

// The result of submitting a PKCS#10.
struct SubmitOutcome {
  RequestRecord request;                        // as stored (state after policy)
  std::optional<pki::Certificate> certificate;  // when granted at once
};

// What the SCEP layer knows about a PKCSReq/RenewalReq beyond the PKCS#10.
struct ScepRequest {
  std::string transaction_id;
  std::string signer_cert_der;  // the certificate that signed the PKIMessage
  bool renewal = false;         // messageType RenewalReq (17)
  // Called with a certificate this request is granted while its commit is in flight,
  // so that the reply carrying it is signed meanwhile (Issuer::Order::while_committing):
  // it may be called without the certificate ever being committed, or not at all (a
  // pending, refused or repeated request). The reply goes out only for the
  // certificate a kSuccess outcome names.
  WhileCommitting while_committing = {};
  // A one-time password the protocol carried outside the PKCS#10 (EST: the HTTP Basic
  // password), taken instead of its challengePassword. nullopt: the challengePassword.
  std::optional<std::string> password = std::nullopt;
};

// The answer a SCEP CertRep carries.
struct ScepOutcome {
  enum class Status { kSuccess, kPending, kFailure };
  Status status = Status::kPending;
  ScepFailInfo fail_info = ScepFailInfo::kBadRequest;
  std::string fail_text;                        // failInfoText, for the operator's eyes
  std::optional<pki::Certificate> certificate;  // kSuccess
  RequestId request_id = 0;
};

// What EST serverkeygen answers: the outcome, and with kSuccess the key made for the
// certificate, which goes to the client with it.
struct ServerKeygenOutcome {
  ScepOutcome outcome;
  std::optional<pki::Key> key;
};

// Who answers SCEP while the server is enabled (decrypting requests, signing replies):
// the CA's certificate and key; an RA's own; or, for a CA with `scep encryption-key`,
// that key and the certificate the CA issued it, with the CA first in `chain`.
struct SigningIdentity {
  pki::Certificate certificate;
  pki::Key key;
  // The CAs above `certificate`, the one that issued it first, up to the root as far as
  // known. Empty for a root answering itself.
  std::vector<pki::Certificate> chain = {};
  // An RA with usage keys: the certificate (keyEncipherment) clients encrypt to, and its
  // key; `certificate` then only signs. Absent: `certificate` does both.
  std::optional<pki::Certificate> encryption_certificate = std::nullopt;
  std::optional<pki::Key> encryption_key = std::nullopt;

  const pki::Certificate& decryption_certificate() const {
    return encryption_certificate ? *encryption_certificate : certificate;
  }
  const pki::Key& decryption_key() const { return encryption_key ? *encryption_key : key; }
};

// A snapshot for `show crypto pki server`.
struct ServerInfo {
  ServerConfig config;
  ServerState state = ServerState::kDisabled;
  std::string reason;  // why not enabled, when state is kCheckFailed / kWaitingForTime
  // The CA certificate; in RA mode the RA's own certificate (with usage keys, the
  // signature one, and `ra_encryption_certificate` the other).
  std::optional<pki::Certificate> ca_certificate;
  std::optional<pki::Certificate> ra_encryption_certificate = std::nullopt;
  // A CA's `scep encryption-key`: the certificate it issued to that key.
  std::optional<pki::Certificate> scep_encryption_certificate = std::nullopt;
  // The shadow (rollover) CA certificate, between stage two and stage three.
  std::optional<pki::Certificate> rollover_certificate = std::nullopt;
  // A subordinate CA or an RA: its rollover request waits for the superior.
  bool rollover_requested = false;
  Serial last_serial = 0;
  std::optional<TimePoint> crl_next_update;
  // Several nodes on one database: who publishes the CRL ("this node (NAME)", or the
  // other node's NAME; "none yet").
  std::optional<std::string> crl_publisher = std::nullopt;
  // mode sub-cs and mode ra: the superior's root, as authenticated by the operator, and
  // the CA that issues (the same for a two-tier PKI).
  std::optional<pki::Certificate> upper_ca = std::nullopt;
  std::optional<pki::Certificate> issuing_ca = std::nullopt;
  // Copies on their way to remote locations, once there have been any.
  std::optional<files::PublishQueue::State> publish = std::nullopt;
};

// What /metrics shows of one server (CertificateServer::gauges()).
struct ServerGauges {
  ServerState state = ServerState::kDisabled;
  std::optional<TimePoint> ca_not_after;    // while enabled
  std::optional<CrlPublisher::Gauges> crl;  // a CA that has published a CRL
  // From the database, as they were at most a given age ago; nullopt when it could not
  // be read (or the server is not enabled).
  std::optional<std::uint64_t> certificates;  // every certificate issued and stored
  std::optional<std::uint64_t> pending;       // requests waiting for the operator
  std::optional<std::uint64_t> authorized;    // mode ra: granted here, waiting at the CA
};

// How old the database counts of ServerGauges may be: a scrape every second costs the
// database no more than one every 15 s.
inline constexpr std::chrono::seconds kGaugeCountsAge{15};
// How long a scrape waits for counts being read from the database.
inline constexpr std::chrono::milliseconds kGaugeCountsWait{500};

struct CrlSummary {
  std::string der;
  pki::CrlInfo info;
};

// Opens the main database at a local path (LABEL.ser). Tests inject engines (memory,
// FaultyStore) here; empty means SQLite.
using StoreOpener = std::function<Result<std::unique_ptr<store::Store>>(const std::string& path)>;

struct ServerDeps {
  KeyStore& keys;
  Clock& clock;
  files::Resolver resolver;
  std::string trustpoint_dir;  // where the CA certificate copy lives (nvram)
  StoreOpener open_store = {};
  // PBKDF2 iterations protecting the CA key archive (.p12 / .pem). Tests lower it; the
  // default is the project's standard for keys at rest (pki/key.h).
  int archive_kdf_iterations = pki::kKeyEncryptionIterations;
  // mode sub-cs: the trustpoint of the server's label as a client of the superior CA
  // (the Device wires its TrustpointClient here). Empty: a subordinate CA cannot enable.
  std::function<std::optional<EnrollmentState>()> superior_state = {};
  std::function<Result<EnrollResult>(const EnrollOptions&)> superior_enroll = {};
  // The server's rollover through that trustpoint: a request for the shadow key
  // (LABEL.rollover) signed by the current certificate; the rollover certificate taking
  // over (TrustpointClient::promote_rollover); the rollover forgotten.
  std::function<Result<EnrollResult>(const EnrollOptions&)> superior_rollover = {};
  std::function<Status()> superior_promote = {};
  std::function<Status()> superior_cancel_rollover = {};
  // mode ra: where granted requests go (the trustpoint of the server's label), and the
  // SCEP client that takes them there. Empty: an RA cannot enable.
  std::function<Result<UpstreamTarget>()> superior_target = {};
  std::shared_ptr<UpstreamCa> upstream = {};
  // Transfers to remote `database url` locations (null: they are refused).
  const files::RemoteFiles* remote = nullptr;
  // The device's PKCS#11 tokens (null: none), and the token a key the server generates
  // goes to (the `on NAME:` of the server's trustpoint; empty: the key store).
  TokenRegistry* tokens = nullptr;
  // The device's OCSP URL, http://HOST[:PORT]/ocsp, for issued certificates when `ocsp`
  // is on without `ocsp url` (empty: none).
  std::function<std::string()> ocsp_url = {};
  std::function<std::string()> key_device = {};
  // The device's audit log, which gets a record of every certificate issued (null: none).
  AuditLog* audit = nullptr;
  // What changed, for live watchers (the Device wires its EventHub, events.h): a request
  // stored, granted, rejected or removed, a certificate issued, revoked or unrevoked, a
  // CRL published. Called after the change is committed, with none of the server's locks
  // that a watcher could need. Empty: nobody watches.
  std::function<void(EventKind kind, std::string id, std::string state)> on_event = {};
};

// The label of a certificate server's shadow (rollover) key.
inline std::string rollover_key_label(const std::string& label) { return label + ".rollover"; }

// The transaction an ACME order's request is stored under. Not a SCEP transactionID
// (those are printable strings without '#'), so SCEP cannot reach it.
std::string acme_transaction(const std::string& order_id);

// Whether a request is a rollover request (issued under the shadow CA key).
bool is_rollover_request(const store::RequestRecord& request);

// Whether the configuration puts the server in RA mode (`mode ra [transparent]`).
bool is_ra_mode(const ServerConfig& config);

class CertificateServer;

// One of the requests a certificate server runs at once on a request worker
// (CertificateServer::try_begin_request()). Given back when destroyed; must not outlive
// the server. Movable.
class RequestSlot {
 public:
  RequestSlot(RequestSlot&& other) noexcept : server_(std::exchange(other.server_, nullptr)) {}
  RequestSlot& operator=(RequestSlot&&) = delete;
  ~RequestSlot();

 private:
  friend class CertificateServer;
  explicit RequestSlot(const CertificateServer* server) : server_(server) {}
  const CertificateServer* server_;
};

// How long a certificate server's share of the request workers may stay taken with none
// of its requests ending before it is deemed stuck (try_begin_request()).
inline constexpr std::chrono::seconds kRequestShareStuck{2};

class CertificateServer {
 public:
  CertificateServer(ServerConfig config, ServerDeps deps);
  ~CertificateServer();

  const std::string& label() const { return label_; }

  // A slot for a request that runs on a worker of the HTTP server (an enrolment, an OCSP
  // answer from the database), with at most `limit` of this server's requests running at
  // once (0: no limit). Below the limit: at once, lock-free. At it, the caller waits for
  // a slot while the server's requests move on (one ended, or the limit was reached, less
  // than kRequestShareStuck ago: a burst); once they have not for that long (a storage
  // that hangs), nullopt, at once for the callers that come next: the caller answers "try
  // again later". A server whose storage hangs then holds at most `limit` workers, plus
  // those that wait for up to kRequestShareStuck (Device::try_begin_request()).
  std::optional<RequestSlot> try_begin_request(unsigned limit) const;
  // Requests that hold a slot now.
  unsigned running_requests() const { return running_requests_.load(std::memory_order_relaxed); }

  ServerConfig config() const;
  // Replaces the configuration. Refused (kPermissionDenied, message for the operator)
  // when a setting that is locked changes: storage and archive settings while enabled;
  // issuer-name, lifetime ca-certificate and mode once the CA certificate exists.
  Status set_config(const ServerConfig& config);

  // True once the CA certificate exists (the trustpoint holds it).
  bool has_ca_certificate() const;
  // The database file (LABEL.ser under the configured `database url`), local.
  Result<std::string> database_path() const;
  // Whether enable() will need EnableOptions::archive_password.
  bool needs_archive_password() const;

  // `no shutdown`. Runs the enabling checks; the first time, generates key, CA
  // certificate, archive and CRL. A failed check leaves the server in kCheckFailed or
  // kWaitingForTime with reason(), and returns the error.
  Result<EnableReport> enable(const EnableOptions& options);
  // `shutdown`: stops issuing, closes the database. Keeps everything on disk.
  void shutdown();
  ServerState state() const;
  std::string reason() const;
  // mode sub-cs and mode ra: the trustpoint's request was answered (granted or refused);
  // the next tick() takes the answer.
  void superior_answered() { superior_answered_ = true; }

  // mode ra: exchanges with the issuing CA for the requests waiting there (forwarded, not
  // yet answered) whose `enrollment retry period` has passed. Makes network calls: run
  // it where waiting is harmless, not on the timer that refreshes CRLs.
  void poll_upstream();

  // Timers: CRL refresh before nextUpdate, request expiry, and recovery from a failed
  // state. Called about once a second by the daemon.
  void tick();

  // --- requests ---
  // Adds a PKCS#10 (DER) to the request database and applies the grant policy.
  // Bad input fails with kInvalidArgument and records nothing.
  // `rollover`: `rollover request pkcs10`, a client rollover certificate, issued under the
  // shadow CA key (kPermissionDenied without one).
  Result<SubmitOutcome> submit(std::string_view csr_der, RequestSource source,
                               bool rollover = false);
  // `grant ID` / `grant all`: issues certificates for pending (or authorized) requests.
  // In RA mode the requests are forwarded to the issuing CA instead; those it grants at
  // once are returned, the others wait there as "authorized".
  Result<std::vector<IssuedCertificate>> grant(std::optional<RequestId> id);
  Status reject(std::optional<RequestId> id);
  Status remove(std::optional<RequestId> id);
  // What the certificate profile would leave out of what `request` asks for (one line per
  // item: "extendedKeyUsage codeSigning", ...): shown to the operator before granting.
  // Empty for a request without a readable PKCS#10.
  std::vector<std::string> dropped_by_profile(const RequestRecord& request) const;
  // The newest kMaxListedRequests requests, newest first.
  Result<std::vector<RequestRecord>> requests() const;
  static constexpr std::size_t kMaxListedRequests = 1000;

  // --- certificates and revocation ---
  // Revokes by sequence number (`revoke 0x3`, as on IOS) when `serial` has no entropy,
  // otherwise only the certificate whose serial is exactly `serial`. `reason`, an RFC 5280
  // CRLReason code (pki/crl.h), is recorded with the revocation and put in the CRL entry
  // (unspecified, 0, is recorded but leaves the entry without reasonCode); a certificate
  // the database does not hold (issued before the CA moved here) is listed without it.
  // Fails with kInvalidArgument for a reason a CRL entry cannot carry (removeFromCRL,
  // unassigned codes), kNotFound for an unknown serial, kAlreadyExists when already
  // revoked.
  Status revoke(const pki::SerialNumber& serial, std::optional<int> reason = std::nullopt);
  Status revoke(Serial sequence, std::optional<int> reason = std::nullopt) {
    return revoke(pki::SerialNumber{sequence}, reason);
  }
  // `unrevoke`: takes a revocation back (a certificate revoked by mistake) and publishes a
  // new CRL without it at once. Serials as for revoke(), and the same refusals (not
  // enabled, RA mode); kNotFound for an unknown serial, kInvalidArgument when the
  // certificate is not revoked.
  Status unrevoke(const pki::SerialNumber& serial);
  Status unrevoke(Serial sequence) { return unrevoke(pki::SerialNumber{sequence}); }
  Status for_each_certificate(const std::function<bool(const store::CertRecord&)>& fn) const;
  // The stored certificate with sequence number `sequence`; kNotFound when there is none,
  // kUnavailable when the server is not enabled.
  Result<store::CertRecord> stored_certificate(Serial sequence) const;
  // The current CRL with its parsed fields, for `show` and `info crl` (parses it: not for
  // hot paths).
  Result<CrlSummary> current_crl() const;
  // The current CRL's bytes, shared (GetCRL serves them without a copy); null when the
  // server has none (not enabled).
  std::shared_ptr<const std::string> crl_der() const;

  // `password generate [minutes]`: a new one-time enrollment password; voids the old.
  Result<OneTimePassword> generate_password(int minutes);
  // Consumes the password if it is the live one (constant-time compare).
  bool consume_password(std::string_view candidate);

  ServerInfo info() const;
  // For /metrics: the state and CRL from memory, the counts from the database when the
  // ones kept are older than `counts_age`. The database is read on a thread of its own
  // (one at a time), which the caller waits for at most `wait`: a database that is slow
  // or hangs leaves the counts read last (or none, when they are of another runtime), and
  // never holds the scrape, nor /metrics for the other servers, longer than that.
  ServerGauges gauges(std::chrono::steady_clock::duration counts_age = kGaugeCountsAge,
                      std::chrono::steady_clock::duration wait = kGaugeCountsWait) const;
  // `no crypto pki server`: stops the publish queue and deletes what it still held for
  // remote locations (the server's files stay where they are).
  void discard_publish_queue();

  // --- SCEP ---
  // PKCSReq / RenewalReq. A transactionID already in the request database answers from
  // it (pending, the same certificate, or the failure); otherwise a new request is
  // recorded and the grant policy applied. Failures of the request itself are an
  // outcome (kFailure with failInfo), not an error; errors are for the server's own
  // trouble (disabled, database down).
  // `csr` as the SCEP layer parsed it; its signature is checked here.
  Result<ScepOutcome> scep_enroll(const pki::Csr& csr, const ScepRequest& scep);
  // The same from the PKCS#10 DER (bytes that do not parse: badMessageCheck).
  Result<ScepOutcome> scep_enroll(std::string_view csr_der, const ScepRequest& scep);
  // CertPoll (GetCertInitial): the state of the request with this transactionID.
  Result<ScepOutcome> scep_poll(const std::string& transaction_id);

  // ACME finalize (server_acme.cpp): the CSR of ACME order `order_id`, whose names the
  // ACME service checked against the order and found all validated (`validated`). The
  // request policy decides (RequestPath::kAcme); the request is stored under the
  // transaction acme_transaction(order_id), so a finalize sent again gets the same
  // answer, and a pending one is answered later by acme_poll(). Certificates get the
  // ACME lifetime (AcmeConfig::lifetime_days, at most `lifetime certificate`). Outcomes
  // as scep_enroll's; an RA refuses (it issues nothing itself).
  Result<ScepOutcome> acme_enroll(const pki::Csr& csr, const std::string& order_id, bool validated);
  // The state of the request order `order_id` stored (kBadCertId when none).
  Result<ScepOutcome> acme_poll(const std::string& order_id);
  // This server's database, for the ACME records the acme module keeps there (and only
  // for them); it stays open while the pointer lives. kUnavailable when not enabled.
  Result<std::shared_ptr<store::Store>> acme_store() const;
  // GetCert: a certificate this server issued, by its whole serial (entropy included).
  // kNotFound otherwise.
  Result<pki::Certificate> certificate_by_serial(const pki::SerialNumber& serial) const;

  // --- HTTPS and EST ---

  // The certificate of the device's HTTPS listener when no `ip http secure-trustpoint`
  // names one: issued by this CA to `key` for `dns_names` and `ip_addresses` (subject
  // CN=the first DNS name; extendedKeyUsage serverAuth), valid 90 days and renewed with a
  // third left; the one issued before is returned while it fits (same key and names,
  // this CA certificate, not revoked). Kept in the database per `node` (the device's
  // name), so that nodes sharing it do not replace each other's. Fails with kUnavailable
  // when the server is not enabled or is an RA (it issues nothing itself).
  Result<pki::Certificate> https_certificate(const pki::Key& key,
                                             const std::vector<std::string>& dns_names,
                                             const std::vector<std::string>& ip_addresses,
                                             const std::string& node);
  // The CA certificates a client of this server trusts, its own first, then those above
  // it (a subordinate CA's or an RA's issuers): EST /cacerts. kUnavailable when disabled.
  Result<std::vector<pki::Certificate>> ca_chain() const;
  // Who a client certificate (DER) is to this server, as the request policy sees a
  // signer (Signer::kNone for empty bytes); `cert` gets it when it is one of ours. EST:
  // the certificate a client authenticated with in the TLS handshake. kUnavailable when
  // disabled.
  Result<Signer> classify_client(std::string_view der, std::optional<pki::Certificate>& cert);
  // EST serverkeygen (RFC 7030 4.4): this server makes the key. `request` is the client's
  // PKCS#10, whose key and signature only say what kind of key to make (RSA 2048, 3072
  // or 4096 bits, EC P-256 or P-384; anything else is refused). The request that goes
  // through scep_enroll() (and is stored) is one this server builds and signs with the
  // new key, with the client's subject, extension request and challengePassword, and
  // the new key sealed (pki/sealed_box.h) to the key SCEP requests are decrypted with,
  // bound to the transaction: while the request waits for the operator, the key waits
  // with it, in the database, where only a holder of the CA's key (any node) can open
  // it; it goes when the request goes (removed, expired). A repeat of the transaction
  // (`scep.transaction_id`) answers from the stored request with the same key.
  // Keys are made one at a time (an RSA-4096 key takes a core for a second or more): a
  // request that needs a new key while another is being made fails with kUnavailable
  // ("busy"; EST answers 503 with Retry-After), so that a client with credentials cannot
  // put every core to key generation. kUnavailable also when disabled or the database
  // fails.
  Result<ServerKeygenOutcome> server_keygen(const pki::Csr& request, const ScepRequest& scep);
  // Whether server_keygen() is making a key at this moment.
  bool making_key() const { return making_key_.load(); }
  // Whether `password` is the live one-time password (`password generate`); nothing is
  // consumed. Constant-time in the password. False when disabled.
  bool one_time_password_matches(std::string_view password) const;
  // The CA certificate and key (an RA's own certificate and key in RA mode);
  // kUnavailable unless enabled.
  Result<SigningIdentity> signing_identity() const;
  // The CA's OCSP responder while the server is enabled with `ocsp` on; null otherwise.
  // It stays usable while held, whatever the server does meanwhile.
  std::shared_ptr<OcspResponder> ocsp_responder() const;

  // --- rollover ---
  // `crypto pki server X rollover`: stage two now — a root makes its shadow (rollover)
  // key and CA certificate: the same subject, valid from the current certificate's
  // expiry for `lifetime ca-certificate`. A subordinate CA or an RA asks its superior for
  // one, for a new key (LABEL.rollover), signed with its current certificate; the shadow
  // exists once the superior grants it (at once, or at a later tick). With `database
  // archive` the shadow is archived first (LABEL-rollover.p12/.pem), with the configured
  // password or `archive_password`; when that fails there is no rollover.
  // kAlreadyExists when a shadow exists, kUnavailable unless enabled.
  Status start_rollover(const std::string& archive_password = {});
  // `crypto pki server X rollover cancel`: deletes the shadow key, certificate and
  // archive (and a rollover request waiting for the superior). kNotFound without either.
  Status cancel_rollover();
  // The shadow CA certificate while one exists (stage two).
  std::optional<pki::Certificate> rollover_certificate() const;
  // GetNextCACert: the shadow certificate followed by the certificates above it (a
  // subordinate CA's or an RA's next chain); empty without a shadow.
  std::vector<pki::Certificate> rollover_chain() const;

 private:
  struct Runtime;  // what exists only while enabled: store, CA key, CRL builder

  // What prepare() made ready, or why it could not.
  struct Prepared {
    std::shared_ptr<Runtime> runtime;
    EnableReport report;
    std::string issuer_name;  // the CA certificate's, when the configuration lost it
    Status failure;
    LifeEvent event = LifeEvent::kCheckFailed;
  };
  Result<EnableReport> enable_run(const EnableOptions& options, LifeEvent trigger)
      REQUIRES(enable_mu_);
  Prepared prepare(const ServerConfig& cfg, const EnableOptions& options);
  void transition(LifeEvent event, std::string reason = {}) REQUIRES(mu_);
  // Keeps the runtime's last issued serial before the runtime goes (last_serial_).
  void remember_last_serial() REQUIRES(mu_);
  bool needs_archive_password(const ServerConfig& cfg) const;
  Status generate_ca(Runtime& rt, const ServerConfig& cfg, EnableReport& report,
                     const EnableOptions& options);
  // mode sub-cs and mode ra: installs the certificate the superior granted (a CA
  // certificate, or an RA's), or asks for it; otherwise fails with the life-cycle event
  // in `event`.
  Status obtain_superior_ca(Runtime& rt, const ServerConfig& cfg, EnableReport& report,
                            const EnableOptions& options, LifeEvent& event);
  Result<KeyEntry> ensure_ca_key(Runtime& rt, EnableReport& report);
  // A new RSA key pair of the default size named `label`, in the key store, or on the
  // token the server's trustpoint names (`on NAME:`); `what` names it in errors.
  Result<KeyEntry> generate_server_key(const std::string& label, std::string_view what);
  // prepare(), a CA: the key clients encrypt to when it is not the CA key (`scep
  // encryption-key`), and the certificate the CA issued it (issued now when there is none
  // that fits). Refuses a CA key that cannot decrypt without one.
  Status setup_scep_encryption(Runtime& rt, const ServerConfig& cfg, EnableReport& report);
  // The OCSP responder of a CA (server_setup.cpp): the CA key signs, or the key of
  // `ocsp responder-key` (generated if missing) with a certificate the CA issues it.
  Status setup_ocsp(Runtime& rt, const ServerConfig& cfg);
  // The timer: a delegated responder's certificate renewed with a third of it left.
  void ocsp_tick(const std::shared_ptr<Runtime>& rt);
  // The certificate the CA issued to one of its own keys (`key`) for `kind`: the stored
  // one while it fits (the same key, signed by the current CA certificate, not revoked,
  // not due for renewal, for `names` when given), otherwise a new one, stored; `issued`
  // then gets its serial. `names`: a kTlsServer certificate's (its subject is then
  // CN=the first DNS name, and it is kept under `names->meta`).
  Result<pki::Certificate> service_certificate(Runtime& rt, const ServerConfig& cfg,
                                               const pki::Key& key, const ServiceCert& kind,
                                               std::string* issued,
                                               const ServiceNames* names = nullptr);
  // Whether the server can sign with `entry`: a key on a token that is not logged in (or
  // has lost the key) cannot, and the reason says why.
  Status usable_ca_key(const KeyEntry& entry) const;
  // mode ra with usage keys: checks the RA's encryption certificate against the
  // encryption key of `entry` and keeps both in the runtime.
  Status use_ra_encryption(Runtime& rt, const pki::Certificate& cert, const KeyEntry& entry);
  // The archive of a CA certificate and key: NAME.p12 or NAME.pem, as configured.
  Status write_archive(const ServerConfig& cfg, const pki::Certificate& cert, const pki::Key& key,
                       const std::string& password, const std::string& name);
  // --- rollover (server_rollover.cpp) ---
  // Makes the shadow CA key and certificate of a root; the caller holds the runtime's
  // rollover_op_mu.
  Status make_shadow(Runtime& rt, const ServerConfig& cfg, const std::string& archive_password);
  // A subordinate CA or an RA: asks the superior for the shadow (or takes the one it
  // granted), archived with `archive_password`; the caller holds rollover_op_mu.
  Status request_shadow(Runtime& rt, const ServerConfig& cfg, const std::string& archive_password);
  // Installs the rollover certificate the superior granted as the shadow.
  Status adopt_shadow(Runtime& rt, const ServerConfig& cfg, const std::string& archive_password);
  // The certificates above a subordinate's shadow certificate.
  std::vector<pki::Certificate> shadow_chain(const pki::Certificate& cert) const;
  // prepare(): the shadow of an earlier run, if any.
  Status load_shadow(Runtime& rt);
  // Stage three: the shadow becomes the CA certificate and key, durably; the runtime is
  // then rebuilt from what was written, as at a restart.
  Status switch_to_shadow(Runtime& rt, const ServerConfig& cfg);
  // prepare(): a switch interrupted after the database took the new certificate but
  // before the key store took the new key is finished.
  Status finish_interrupted_switch(const pki::Certificate& ca_cert);
  // Deletes the key labelled `token_label` from token `device` (none there: done).
  Status forget_on_token(const std::string& device, const std::string& token_label);
  // The timer: stage two at the autorollover time, stage three at the CA's expiry.
  void rollover_tick(const std::shared_ptr<Runtime>& rt);
  std::string shadow_key_label() const { return rollover_key_label(label_); }
  // Stores the CA certificate (with its key) in the database and the trustpoint, and
  // writes the archive once.
  Status install_ca(Runtime& rt, const ServerConfig& cfg, const pki::Certificate& cert,
                    const KeyEntry& entry, EnableReport& report, const EnableOptions& options);
  // The request policy's inputs for one request, and its decision.
  struct Evaluation {
    Decision decision;
    RequestClass request_class = RequestClass::kEndEntity;
    Signer signer = Signer::kNone;
    std::optional<pki::Certificate> signer_cert;  // when the signer is a certificate of ours
    bool same_identity = false;                   // the signer's identity (PolicyInput)
    // The one-time password offered, when it is the live one (consumed at the grant): the
    // PKCS#10 challengePassword, or what the protocol carried besides it (EST: HTTP Basic).
    std::optional<std::string> password;
  };
  struct Decided {
    Decision decision;
    std::optional<pki::Certificate> certificate;  // when granted
  };
  // A subordinate CA or an RA of ours asking, with its valid certificate, for a
  // certificate of the same identity and kind for a new key: its rollover.
  static bool is_subordinate_rollover(const Evaluation& ev, const pki::Csr& csr);
  Signer classify_signer(Runtime& rt, std::string_view der,
                         std::optional<pki::Certificate>& cert) const;
  // `password`: the one-time password offered outside the PKCS#10 (nullopt: its
  // challengePassword); looked at only with `allow_otp`.
  // `acme_validated`: set for an ACME order's request (PolicyInput::acme), to whether its
  // names were validated.
  Result<Evaluation> evaluate(Runtime& rt, const pki::Csr& csr, RequestPath path,
                              std::string_view signer_der, const ServerConfig& cfg, bool allow_otp,
                              const std::optional<std::string>& password = std::nullopt,
                              std::optional<bool> acme_validated = std::nullopt);
  // A new request: decides, then issues (kGrant), stores it (kPending) or drops it.
  // `while_committing`: see ScepRequest.
  Result<Decided> decide_and_record(Runtime& rt, RequestRecord& req, const pki::Csr& csr,
                                    RequestPath path, const ServerConfig& cfg,
                                    const WhileCommitting& while_committing = {},
                                    const std::optional<std::string>& password = std::nullopt,
                                    std::optional<bool> acme_validated = std::nullopt);
  // Issues the certificate of a granted request and stores both. A request read from the
  // database (a grant at the shell, a poll: `stored` set) is issued only if it is still in
  // the state it was read in: another node may have decided it meanwhile (kAborted).
  // The audit record of a request the policy refused (AuditLog::record_untrusted).
  void audit_refusal(const RequestRecord& req, RequestPath path, const std::string& reason) const;
  Result<pki::Certificate> issue_granted(Runtime& rt, RequestRecord& request, const pki::Csr& csr,
                                         const Evaluation& ev, const ServerConfig& cfg,
                                         const WhileCommitting& while_committing = {},
                                         bool stored = false);
  // How much shorter than configured a rollover certificate is (random, see .cpp).
  Result<Seconds> rollover_jitter(const ServerConfig& cfg, TimePoint shadow_start) const;
  Result<ScepOutcome> scep_answer_existing(Runtime& rt, const RequestRecord& request);
  bool resigned_by_ra(Runtime& rt, const pki::Csr& csr, const ScepRequest& scep) const;
  // mode ra (server_ra.cpp): a request the RA granted is stored as authorized (the
  // one-time password consumed with it), then sent to the issuing CA; the answer becomes
  // the request's state. The caller holds the request's transaction stripe.
  Status ra_authorize(Runtime& rt, RequestRecord& request, const Evaluation& ev);
  Result<ScepOutcome> ra_forward(Runtime& rt, RequestRecord& request, const pki::Csr& csr);
  Result<ScepOutcome> ra_answer_existing(Runtime& rt, const RequestRecord& request);
  Result<std::vector<IssuedCertificate>> ra_grant(Runtime& rt, std::optional<RequestId> id);
  Result<ScepOutcome> ra_forward_stored(Runtime& rt, RequestId id);
  Result<ScepOutcome> answer_closed(Runtime& rt, const RequestRecord& request);
  static Mutex& transaction_stripe(Runtime& rt, const std::string& tid);
  Result<std::vector<RequestRecord>> open_requests(Runtime& rt, std::optional<RequestId> id,
                                                   std::string_view verb);
  Status write_cert_files(const ServerConfig& cfg, const store::CertRecord& rec);
  Status ensure_cert_files(const ServerConfig& cfg, const store::CertRecord& rec);
  Status repair_recent_cert_files(Runtime& rt, const ServerConfig& cfg, Serial last);
  void fail_critical(const Status& why);
  // deps_.on_event, when set.
  void notify(EventKind kind, std::string id, std::string_view state) const {
    if (deps_.on_event) deps_.on_event(kind, std::move(id), std::string(state));
  }
  // mode sub-cs and mode ra, unless the trustpoint says `revocation-check none`: why the
  // server must not run (the superior CA's CRL lists its certificate); empty otherwise.
  std::string superior_revocation() const;
  void expire_requests(Runtime& rt);
  std::shared_ptr<Runtime> runtime() const;
  files::FileSet file_set(const ServerConfig& cfg) const;
  // `serial-number` with an imported CA and no database yet: the database takes the CA
  // certificate, the serial floor and the revocations of the CA's LABEL.crl.
  Status adopt_ca(Runtime& rt, const ServerConfig& cfg, const files::FileSet& files);
  // `serial-number N` above the database's floor: N becomes the floor (true). The store
  // must be opened again for its allocator to see it.
  Result<bool> raise_serial_floor(Runtime& rt, const ServerConfig& cfg);
  // The queue of copies for remote locations, opened on first need (and at construction
  // when its spool, nvram:LABEL.publish, holds copies from before a restart). Null
  // without deps_.remote or when the spool cannot be opened (logged).
  files::PublishQueue* publish_queue() const;
  std::string publish_spool_dir() const;
  // Every storage location the configuration needs can be written (kUnavailable).
  Status check_storage(const ServerConfig& cfg) const;
  std::string trustpoint_cert_path() const;
  // The CA certificate kept in the trustpoint (nvram), whether enabled or not.
  std::optional<pki::Certificate> stored_ca_certificate() const;

  const std::string label_;
  ServerDeps deps_;
  // /metrics: what this process did for this CA (server_gauges.cpp).
  metrics::Counter& issued_count_;
  metrics::Counter& revoked_count_;

  // Held for a whole enabling run (checks, key generation, database open, CRL), never
  // by show or SCEP paths.
  Mutex enable_mu_ ACQUIRED_BEFORE(mu_);
  // Held for moments only: the configuration, the state and the runtime pointer.
  mutable Mutex mu_;
  // mode sub-cs: the archive passphrase typed at `no shutdown`, kept in memory until the
  // superior grants and the archive is written (a restart forgets it: the operator's next
  // `no shutdown` asks again). Cleared once the server is enabled, and by `shutdown`.
  std::string pending_archive_password_ GUARDED_BY(mu_);
  ServerConfig config_ GUARDED_BY(mu_);
  ServerState state_ GUARDED_BY(mu_) = ServerState::kDisabled;
  std::string reason_ GUARDED_BY(mu_);
  std::string last_failure_ GUARDED_BY(mu_);  // logged once, not at every retry
  std::shared_ptr<Runtime> runtime_ GUARDED_BY(mu_);
  bool want_enabled_ GUARDED_BY(mu_) = false;     // the operator said `no shutdown`
  std::uint64_t generation_ GUARDED_BY(mu_) = 0;  // bumped by shutdown: voids a run
  std::atomic<bool> superior_answered_{false};
  // The last serial issued when the runtime was last torn down: `show` while shut down.
  std::atomic<store::Serial> last_serial_{0};
  // Whether server_keygen() is making a key now (one at a time).
  std::atomic<bool> making_key_{false};
  // try_begin_request(): the slots taken; when one was last given back, or the limit
  // last reached (steady clock, ns); the callers waiting for a slot, woken by
  // end_request().
  friend class RequestSlot;
  void end_request() const;
  void note_request_progress() const;
  mutable std::atomic<unsigned> running_requests_{0};
  mutable std::atomic<std::int64_t> request_progress_ns_{0};
  mutable std::atomic<unsigned> share_waiters_{0};
  mutable Mutex share_mu_;
  mutable std::condition_variable share_freed_;
  // gauges(): the database counts, and when they were read; shared with the thread that
  // reads them (server_gauges.cpp), which may outlive a scrape.
  struct GaugeCounts;
  const std::shared_ptr<GaugeCounts> counts_;
  // Last: its thread reads the configuration, so it goes first.
  mutable Mutex publish_mu_;
  mutable std::unique_ptr<files::PublishQueue> publish_ GUARDED_BY(publish_mu_);
};

}  // namespace scepter::ca
