#pragma once
// The Device is what a router is to IOS: its hostname and domain name, clock, file
// systems (nvram:, flash:), key pairs, trustpoints, certificate servers and HTTP server
// settings. The CLI operates on it; the daemon owns exactly one.
//
// Thread safety: every method may be called from any thread. There is no device-wide
// lock: each piece of state has its own (hostname, trustpoints, servers, clock, http),
// and the objects handed out (CertificateServer, KeyStore) lock themselves. So a long
// CLI line in one shell (key generation, an import, a copy) holds nothing another shell
// needs beyond the object it is changing.
//
// What is atomic: each method on its own. create_server() adds the server and its
// trustpoint together (a reader sees both or neither once it returns);
// remove_trustpoint() refuses, in the same step, a trustpoint a server uses;
// edit_trustpoint() reads, changes and stores one trustpoint with no other edit in
// between; set_clock() moves the clock and persists the offset in the same order as
// other set_clock() calls; KeyStore::put_if_unchanged() is a compare-and-set.
// What is not: anything across objects. `show running-config` or `write memory` while
// another shell edits reads each object (hostname, the trustpoint list, each server's
// configuration) as one consistent snapshot, but may see one edit and not the next, as
// on IOS. delete_server() removes the server and its trustpoint at once, then shuts the
// server down and removes its files and key.
//
// Lock order (outer first): servers_mu_, trustpoints_mu_, then the locks inside
// CertificateServer and KeyStore. Callbacks (edit_trustpoint, edit_http) run with the
// Device's lock held: they must not call back into the Device.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ca/accounts.h"
#include "ca/audit_log.h"
#include "ca/certificate_server.h"
#include "ca/events.h"
#include "ca/keystore.h"
#include "ca/ocsp_responder.h"
#include "ca/tokens.h"
#include "ca/trustpoint_client.h"
#include "ca/upstream_ca.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "files/remote.h"
#include "pki/digest.h"

namespace scepter::ca {

struct DeviceOptions {
  std::string nvram_dir;          // plays the router's NVRAM; startup-config lives here
  std::string flash_dir;          // `flash:`; default <nvram_dir>/../flash
  std::string master_passphrase;  // encrypts private keys at rest
  // scepterd's SCEP client, for trustpoints that enrol (null: enrolment is refused).
  std::shared_ptr<UpstreamCa> upstream = nullptr;
  // How often the audit log gets a signed checkpoint while records arrive (tick()).
  std::chrono::seconds audit_checkpoint_every{60};
};

// `crypto pki trustpoint NAME`. A certificate server creates one with its own label.
struct TrustpointConfig {
  std::string name;
  std::string enrollment_url;
  bool enrollment_mode_ra = false;
  int retry_period_minutes = 0;  // 0: not configured (IOS default 1)
  int retry_count = 0;           // 0: not configured
  std::string subject_name;
  std::string rsakeypair;
  // `on NAME:`: keys generated for this trustpoint (a certificate server's CA key) are
  // made on the token NAME and stay there. Empty: the key store.
  std::string on_device;
  int rsakeypair_bits = 0;  // the size a key generated at enrolment gets (0: 2048)
  // IOS usage keys (`rsakeypair LABEL SIZE ENC-SIZE`): the size of the encryption key,
  // which is enrolled for a certificate of its own. 0: one general-purpose key.
  int rsakeypair_encryption_bits = 0;
  std::optional<pki::Hash> hash;
  std::string revocation_check;  // "", "crl", "none", "ocsp"
  // `auto-enroll [PERCENT] [regenerate]`: enrol by itself once authenticated, and renew
  // when PERCENT of the certificate's lifetime has passed (0: at expiry), with a new key
  // pair when `regenerate`.
  bool auto_enroll = false;
  int auto_enroll_percent = 0;
  bool auto_enroll_regenerate = false;
};

// `ip http server`, `ip http port`, `ip http bind-address`, and the HTTPS listener:
// `ip http secure-server`, `ip http secure-port`, `ip http secure-trustpoint`.
struct HttpConfig {
  bool server = false;
  int port = 80;
  std::string bind_address;  // empty: all addresses (both listeners)
  bool secure_server = false;
  int secure_port = 443;
  // The trustpoint whose enrolled certificate and key the HTTPS listener presents. Empty:
  // a certificate an enabled CA of this device issues to the key kHttpsKeyLabel for the
  // device's name and 127.0.0.1 (CertificateServer::https_certificate), renewed by itself.
  std::string secure_trustpoint;
  // `ip http metrics` (on by default): `/metrics` answers on both listeners, in the
  // Prometheus text format. `no ip http metrics`: 404 there.
  bool metrics = true;
};

// The key of the HTTPS listener's own certificate when no `ip http secure-trustpoint`
// names another (an ECDSA P-256 key: a TLS handshake then costs a fraction of an RSA
// signature).
inline constexpr const char* kHttpsKeyLabel = "scepterd-https";

class Device {
 public:
  // Fails with kUnavailable if nvram_dir cannot be created or read.
  static Result<std::unique_ptr<Device>> create(DeviceOptions options, SettableClock& clock);
  ~Device();

  std::string hostname() const;
  void set_hostname(std::string name);
  // `ip domain name`: empty when none is set. The caller checks the syntax.
  std::string domain_name() const;
  void set_domain_name(std::string name);
  // The router's name as IOS uses it for default key labels and the subject's
  // unstructuredName: "hostname.domain", or the hostname alone without a domain name.
  // Read as one snapshot of both.
  std::string fqdn() const;

  SettableClock& clock() { return clock_; }
  // `clock set`: moves the server clock and persists the offset in nvram.
  Status set_clock(TimePoint t);

  const std::string& nvram_dir() const { return options_.nvram_dir; }
  const std::string& flash_dir() const { return options_.flash_dir; }
  std::string startup_config_path() const { return options_.nvram_dir + "/startup-config"; }
  // Where scp: and sftp: servers' host keys are (OpenSSH known_hosts format).
  std::string ssh_known_hosts_path() const { return options_.nvram_dir + "/ssh_known_hosts"; }
  // The CAs of https file servers, when not the system's (files/remote.h).
  std::string https_ca_path() const { return options_.nvram_dir + "/https_ca_certificates.pem"; }
  // Transfers to and from remote URLs (copy, export, database url).
  const files::RemoteFiles& remote_files() const { return remote_files_; }

  KeyStore& keys() { return *keys_; }
  // `crypto pki token`: the PKCS#11 tokens keys can live on.
  TokenRegistry& tokens() { return *tokens_; }
  // The trustpoints' side as SCEP clients: authentication, enrolment, polling.
  TrustpointClient& enrollment() { return *enrollment_; }
  // `username ...` and `aaa local authentication ...`: who may log in to the REST API.
  Accounts& accounts() { return accounts_; }
  // The audit trail (nvram:audit.log, see audit_log.h).
  AuditLog& audit() { return *audit_; }
  // What changes in the certificate servers, live (events.h): the REST API's
  // /api/v1/events subscribes here.
  EventHub& events() { return events_; }
  std::string audit_log_path() const { return options_.nvram_dir + "/audit.log"; }
  // The certificates an audit checkpoint may be signed with: every CA (or RA)
  // certificate of this device's certificate servers, their rollover ones included.
  std::vector<pki::Certificate> audit_signers() const;

  // The share of the HTTP server's request workers one certificate server may hold
  // while there are several: try_begin_request() refuses a request of a server that
  // already runs `n` (0, the default: no limit). Set once by the HTTP side, from its
  // worker count, so that a server whose storage hangs cannot take every worker.
  void set_max_requests_per_server(unsigned n) { max_requests_per_server_.store(n); }
  // A slot for a request of `server` that runs on a worker (CertificateServer::
  // try_begin_request()), within the share above while the device has more than one
  // certificate server (one alone may use every worker); nullopt: answer "try again
  // later" at once. Lock-free.
  std::optional<RequestSlot> try_begin_request(const CertificateServer& server) const;

  // Certificate servers by label.
  std::shared_ptr<CertificateServer> server(const std::string& label) const;
  std::vector<std::shared_ptr<CertificateServer>> servers() const;
  // Creates `crypto pki server LABEL` with its trustpoint. kAlreadyExists if present.
  Result<std::shared_ptr<CertificateServer>> create_server(const std::string& label);
  // `no crypto pki server LABEL`: the server, its trustpoint and its key.
  Status delete_server(const std::string& label);
  // The dependencies a server `label` of this device gets.
  ServerDeps server_deps(const std::string& label);

  // `crypto pki trustpoint NAME`: copies of one (nullopt if none) or of all, by name.
  std::optional<TrustpointConfig> trustpoint(const std::string& name) const;
  std::vector<TrustpointConfig> trustpoints() const;
  // Runs `edit` on a copy of trustpoint `name` and stores the copy if `edit` returns OK;
  // the trustpoint's lock is held throughout, so concurrent edits do not lose each
  // other. A missing trustpoint is created (with `name` set) when `create`, else the
  // result is kNotFound. `edit`'s failure is returned as is and nothing changes.
  Status edit_trustpoint(const std::string& name,
                         const std::function<Status(TrustpointConfig&)>& edit, bool create = false);
  // `no crypto pki trustpoint NAME`. kNotFound if missing, kPermissionDenied if a
  // certificate server of the same label holds it (checked in the same step).
  Status remove_trustpoint(const std::string& name);
  // The `ip http` settings: read by the HTTP front end's timer without the CLI's lock, so
  // a long CLI line (key generation) never holds the listener back.
  HttpConfig http() const;
  void edit_http(const std::function<void(HttpConfig&)>& edit);
  // Where the HTTP front end listens, for `show ip http server status`: the settings it
  // was started with and the port it bound (0: not listening). Set by the front end after
  // it binds, cleared when it stops.
  struct HttpListening {
    HttpConfig config;
    int port = 0;
  };
  HttpListening http_listening() const;
  void set_http_listening(HttpListening listening);
  // The same for the HTTPS listener, with why it is not listening while it should be
  // (no certificate yet, the port taken).
  struct HttpsListening {
    HttpConfig config;
    int port = 0;
    std::string trustpoint;  // whose certificate it presents; empty: its own
    std::string problem;
  };
  HttpsListening https_listening() const;
  void set_https_listening(HttpsListening listening);

  // What the HTTPS listener presents: its certificate chain (leaf first) and key.
  struct HttpsIdentity {
    std::vector<pki::Certificate> chain;
    pki::Key key;
    std::string trustpoint;  // whose certificate; empty: one the local CA issued
  };
  // With `ip http secure-trustpoint TP`: TP's enrolled certificate and its key, with the
  // CA chain TP authenticated. Otherwise a certificate the first enabled CA (by label; an
  // RA issues nothing) issues to the key kHttpsKeyLabel (an ECDSA P-256 key, generated
  // here the first time) for `names()`. kUnavailable with the reason when there is none
  // (TP not enrolled, its key missing, no enabled CA).
  Result<HttpsIdentity> https_identity();
  // The names the HTTPS listener's own certificate is for: this device's name (and the
  // host name alone when a domain name is set), and 127.0.0.1 and ::1 besides a specific
  // `ip http bind-address`.
  struct HttpsNames {
    std::vector<std::string> dns;
    std::vector<std::string> ip;
    bool operator==(const HttpsNames&) const = default;
  };
  HttpsNames https_names() const;

  // The OCSP URL of this device's HTTP server, http://HOST[:PORT]/ocsp: what issued
  // certificates carry for a server with `ocsp` and no `ocsp url`.
  std::string ocsp_url() const;
  // How much answer_ocsp() may do for an answer.
  enum class OcspWork {
    kReady,   // only answers already made (no signature): for a network thread
    kCpu,     // also a signature in this process, with a status already known
    kAnyway,  // also reading the database or signing on a token: for a worker
  };
  // OCSP at /ocsp: the answer to a DER OCSPRequest from the server whose CA it names
  // (malformedRequest for bytes that are not one, unauthorized when no enabled server
  // with `ocsp` issued it), or nullopt when it would take more than `work` allows (the
  // caller asks again with more).
  std::optional<OcspAnswer> answer_ocsp(std::string_view der, OcspWork work) const;

  // Timers of every server; the daemon calls it about once a second.
  void tick();
  // The trustpoints' polls and automatic enrolment: network calls that may take a
  // connect timeout, so the daemon runs them on their own thread, never in the way of
  // tick() (a CRL refresh must not wait for an unreachable CA).
  void poll_trustpoints();

  // Resolves an IOS file-system URL to a local path: "nvram:x" -> <nvram>/x,
  // "flash:x" -> <flash>/x, "/abs/path" or "file:///abs" as is. Remote URLs (tftp:,
  // ftp:, http:, scp:, sftp:) fail with kInvalidArgument: remote_files() moves those.
  Result<std::string> resolve_local_url(std::string_view url) const;
  // A whole file at a local or remote URL (a login in a remote URL is used). Reads are
  // bounded by the transfer options; local writes are atomic with `mode`.
  Result<std::string> read_url(std::string_view url) const;
  Status write_url(std::string_view url, std::string_view data, int mode) const;

 private:
  Device(DeviceOptions options, SettableClock& clock);
  // tick(): a signed checkpoint in the audit log when one is due.
  void sign_audit();

  DeviceOptions options_;
  files::RemoteFiles remote_files_;
  SettableClock& clock_;
  mutable Mutex hostname_mu_;  // the hostname and the domain name
  std::string hostname_ GUARDED_BY(hostname_mu_) = "Router";
  std::string domain_name_ GUARDED_BY(hostname_mu_);
  // set_clock(): the clock's offset is atomic; this keeps the offset file in step with it.
  Mutex clock_mu_;
  std::unique_ptr<KeyStore> keys_;                // set by create(), then never changed
  std::unique_ptr<TokenRegistry> tokens_;         // the same; after keys_, which it uses
  std::unique_ptr<TrustpointClient> enrollment_;  // likewise
  std::unique_ptr<AuditLog> audit_;               // likewise
  Accounts accounts_{clock_};
  EventHub events_{clock_};  // before the servers, which publish into it
  // tick(): when the audit log last got a checkpoint.
  std::chrono::steady_clock::time_point audit_signed_at_{};
  // tick(): the certificate that signed that checkpoint (none yet in this process).
  std::optional<pki::Certificate> audit_signed_by_;
  std::string audit_signer_label_;  // and the server it belongs to
  mutable Mutex servers_mu_ ACQUIRED_BEFORE(trustpoints_mu_);
  std::map<std::string, std::shared_ptr<CertificateServer>> servers_ GUARDED_BY(servers_mu_);
  std::atomic<std::size_t> server_count_{0};  // servers_.size(), read without the lock
  std::atomic<unsigned> max_requests_per_server_{0};
  mutable Mutex trustpoints_mu_;
  std::map<std::string, TrustpointConfig> trustpoints_ GUARDED_BY(trustpoints_mu_);
  mutable Mutex http_mu_;
  HttpConfig http_ GUARDED_BY(http_mu_);
  HttpListening http_listening_ GUARDED_BY(http_mu_);
  HttpsListening https_listening_ GUARDED_BY(http_mu_);
};

}  // namespace scepter::ca
