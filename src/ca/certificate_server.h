#pragma once
// CertificateServer: one `crypto pki server LABEL`. It owns the CA certificate and key
// (once generated), the main database (LABEL.ser), the request database, issuing,
// revocation and the CRL, and the one-time enrollment password.
//
// Life cycle, as the IOS guide describes it:
//   shutdown (configuration unlocked) --no shutdown--> enabling checks --> enabled
//   enabled --critical failure (e.g. CRL cannot be written)--> disabled with a reason,
//   back to enabled by itself (tick()) once the cause is fixed.
// The first `no shutdown` generates the key (if LABEL has none), the self-signed CA
// certificate (serial 1), the archive and the first CRL.
//
// Thread safety: every public method is safe to call from several threads (CLI
// sessions, SCEP requests, the timer thread). Issuing allocates the serial under a short
// lock and signs outside it; revocations and CRL builds are serialised by the CRL lock.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ca/keystore.h"
#include "ca/server_config.h"
#include "common/clock.h"
#include "common/status.h"
#include "files/file_set.h"
#include "pki/certificate.h"
#include "pki/crl.h"
#include "pki/csr.h"
#include "store/store.h"

namespace scepter::ca {

using store::RequestId;
using store::RequestRecord;
using store::RequestState;
using store::Serial;

enum class ServerState {
  kDisabled,        // shut down by the operator
  kEnabled,         // issuing
  kCheckFailed,     // an enabling check or a critical operation failed (reason())
  kWaitingForTime,  // the clock is not calendar-valid
};

// Where a request came from and how its certificate is shown when granted.
enum class RequestSource { kManualBase64 = 0, kManualPem = 1, kScep = 2 };

struct EnableOptions {
  std::string archive_password;  // when the config has none and an archive is written
};

// What happened during enable(), for the CLI to print in IOS words.
struct EnableReport {
  bool generated_key = false;
  int key_bits = 0;
  bool generated_ca = false;
  bool archived = false;
  std::string archive_skipped_reason;
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
};

// RFC 8894 failInfo values.
enum class ScepFailInfo {
  kBadAlg = 0,
  kBadMessageCheck = 1,
  kBadRequest = 2,
  kBadTime = 3,
  kBadCertId = 4
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

// The CA's certificate and key while enabled (for decrypting requests, signing replies).
struct SigningIdentity {
  pki::Certificate certificate;
  pki::Key key;
};

struct OneTimePassword {
  std::string password;
  TimePoint expires{};
};

// A snapshot for `show crypto pki server`.
struct ServerInfo {
  ServerConfig config;
  ServerState state = ServerState::kDisabled;
  std::string reason;  // why not enabled, when state is kCheckFailed / kWaitingForTime
  std::optional<pki::Certificate> ca_certificate;
  Serial last_serial = 0;
  std::optional<TimePoint> crl_next_update;
};

struct CrlSummary {
  std::string der;
  pki::CrlInfo info;
};

struct ServerDeps {
  KeyStore& keys;
  Clock& clock;
  files::Resolver resolver;
  std::string trustpoint_dir;  // where the CA certificate copy lives (nvram)
};

class CertificateServer {
 public:
  CertificateServer(ServerConfig config, ServerDeps deps);
  ~CertificateServer();

  const std::string& label() const { return label_; }

  ServerConfig config() const;
  // Replaces the configuration. Refused (kPermissionDenied, message for the operator)
  // when a setting that is locked changes: storage and archive settings while enabled;
  // issuer-name, lifetime ca-certificate and mode once the CA certificate exists.
  Status set_config(const ServerConfig& config);

  // True once the CA certificate exists (the trustpoint holds it).
  bool has_ca_certificate() const;
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

  // Timers: CRL refresh before nextUpdate, request expiry, and recovery from a failed
  // state. Called about once a second by the daemon.
  void tick();

  // --- requests ---
  // Adds a PKCS#10 (DER) to the request database and applies the grant policy.
  // Bad input fails with kInvalidArgument and records nothing.
  Result<SubmitOutcome> submit(std::string_view csr_der, RequestSource source);
  // `grant ID` / `grant all`: issues certificates for pending (or authorized) requests.
  Result<std::vector<IssuedCertificate>> grant(std::optional<RequestId> id);
  Status reject(std::optional<RequestId> id);
  Status remove(std::optional<RequestId> id);
  Result<std::vector<RequestRecord>> requests() const;

  // --- certificates and revocation ---
  // Fails with kNotFound for an unknown serial, kAlreadyExists when already revoked.
  Status revoke(Serial serial);
  Status for_each_certificate(const std::function<bool(const store::CertRecord&)>& fn) const;
  Result<CrlSummary> current_crl() const;

  // `password generate [minutes]`: a new one-time enrollment password; voids the old.
  Result<OneTimePassword> generate_password(int minutes);
  // Consumes the password if it is the live one (constant-time compare).
  bool consume_password(std::string_view candidate);

  ServerInfo info() const;

  // --- SCEP ---
  // PKCSReq / RenewalReq. A transactionID already in the request database answers from
  // it (pending, the same certificate, or the failure); otherwise a new request is
  // recorded and the grant policy applied. Failures of the request itself are an
  // outcome (kFailure with failInfo), not an error; errors are for the server's own
  // trouble (disabled, database down).
  Result<ScepOutcome> scep_enroll(std::string_view csr_der, const ScepRequest& scep);
  // CertPoll (GetCertInitial): the state of the request with this transactionID.
  Result<ScepOutcome> scep_poll(const std::string& transaction_id);
  // GetCert: a certificate this server issued. kNotFound otherwise.
  Result<pki::Certificate> certificate_by_serial(Serial serial) const;
  // The CA certificate and key; kUnavailable unless enabled.
  Result<SigningIdentity> signing_identity() const;

 private:
  struct Runtime;  // what exists only while enabled: store, CA key, CRL builder

  Status run_checks();
  Result<EnableReport> enable_locked(const EnableOptions& options);
  Status generate_ca(Runtime& rt, const ServerConfig& cfg, EnableReport& report,
                     const EnableOptions& options);
  Status load_crl(Runtime& rt, const ServerConfig& cfg);
  Status publish_crl_locked(Runtime& rt, const ServerConfig& cfg);
  Result<pki::Certificate> issue_for(Runtime& rt, RequestRecord& request,
                                     const pki::Csr* parsed = nullptr);
  Result<ScepOutcome> scep_answer_existing(Runtime& rt, RequestRecord& request);
  Result<std::vector<RequestRecord>> open_requests(Runtime& rt, std::optional<RequestId> id,
                                                   std::string_view verb);
  bool issued_by_us(Runtime& rt, const pki::Certificate& cert) const;
  Status write_cert_files(const ServerConfig& cfg, const store::CertRecord& rec);
  void fail_critical(const Status& why);
  void expire_requests(Runtime& rt);
  std::shared_ptr<Runtime> runtime() const;
  files::FileSet file_set(const ServerConfig& cfg) const;
  // Every storage location the configuration needs can be written (kUnavailable).
  Status check_storage(const ServerConfig& cfg) const;
  std::string trustpoint_cert_path() const;
  // The CA certificate kept in the trustpoint (nvram), whether enabled or not.
  std::optional<pki::Certificate> stored_ca_certificate() const;

  const std::string label_;
  ServerDeps deps_;

  mutable std::mutex mu_;                       // config, state, runtime pointer
  ServerConfig config_;                         // GUARDED_BY(mu_)
  ServerState state_ = ServerState::kDisabled;  // GUARDED_BY(mu_)
  std::string reason_;                          // GUARDED_BY(mu_)
  std::shared_ptr<Runtime> runtime_;            // GUARDED_BY(mu_)
  bool want_enabled_ = false;                   // GUARDED_BY(mu_): operator said no shutdown
};

const char* server_state_name(ServerState state);

}  // namespace scepter::ca
