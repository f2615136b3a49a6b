#pragma once
// AcmeService: the server side of ACME (RFC 8555) for the certificate servers of a
// device that have `acme`, at /acme/LABEL/ on the HTTPS listener. Like EstService it
// knows nothing of sockets: the front end hands it the method, path, Host, body and the
// client's address, and sends back what it returns.
//
// Resources (under https://HOST/acme/LABEL/): directory, new-nonce, new-account,
// new-order, account/ID, account/ID/orders, order/ID, order/ID/finalize, authz/ID,
// chall/ID/TYPE, cert/ID (the order's certificate chain), revoke-cert, key-change and
// renewal-info/CERTID (RFC 9773).
//
// Every POST is a JWS (acme/jws.h) checked in this order, cheapest first: size, syntax,
// the url header against the request's own URL, the nonce (single use, issued by this
// process), the account (kid) or key (jwk), then the signature. A request that fails
// costs no database write and at most one signature verification.
//
// What it keeps: accounts, orders and authorizations in the CA's database
// (store::AcmeRecord, through CertificateServer::acme_store); nonces and rate-limit
// counters in memory (a nonce from another node is refused as badNonce, which clients
// retry). Challenges are validated on threads of its own (acme/validation.h), at most
// kValidationThreads at once and kMaxQueuedValidations waiting.
//
// Issuing: finalize checks the CSR against the order (acme/names.h) and hands it to
// CertificateServer::acme_enroll, so the request policy and the profile decide as for
// SCEP; a request waiting for the operator leaves the order "processing".
//
// Thread-safe: handle() runs on many threads at once.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "acme/validation.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace scepter::ca {
class CertificateServer;
class Device;
}  // namespace scepter::ca

namespace scepter::acme {

struct AcmeHttpRequest {
  std::string method;        // "GET", "HEAD", "POST"
  std::string path;          // percent-decoded, without the query
  std::string host;          // the Host header ("ca.example.com:8443")
  std::string content_type;  // the Content-Type header
  std::string body;
  std::string peer_address;  // "127.0.0.1"
};

struct AcmeHttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Whether `path` is one of ours (/acme/...).
bool is_acme_path(std::string_view path);
// The answer to a request whose body is over the listener's limit (the HTTP server
// refuses it before the service sees it): a problem document, as for every ACME error.
AcmeHttpResponse too_large_answer();

inline constexpr int kValidationThreads = 4;
inline constexpr std::size_t kMaxQueuedValidations = 256;
// Nonces handed out and not yet used; the oldest go first past this.
inline constexpr std::size_t kMaxNonces = 65536;
// Challenges an account may have waiting for validation at once. (New accounts per
// client address and new orders per account, a minute: `acme rate-limit`, AcmeConfig.)
inline constexpr int kValidationsPerAccount = 16;
inline constexpr std::size_t kMaxCachedAccountKeys = 4096;
// A challenge still "processing" this long after its validation was asked for was lost
// (the daemon stopped with it queued, or crashed): the client may ask again. Longer
// than a full queue takes (kMaxQueuedValidations / kValidationThreads validations of at
// most 10 s each).
inline constexpr std::chrono::seconds kLostValidationAfter{900};

// Single-use nonces (RFC 8555 6.5), in memory.
class NoncePool {
 public:
  std::string issue();
  // True once for each nonce issue() returned (while it is among the newest kMaxNonces).
  bool consume(const std::string& nonce);

 private:
  Mutex mu_;
  std::unordered_set<std::string> live_ GUARDED_BY(mu_);
  std::deque<std::string> order_ GUARDED_BY(mu_);
};

// Counts events per key in fixed one-minute windows; bounded in memory.
class RateLimiter {
 public:
  // Whether one more event of `key` fits `limit` per minute (and counts it if so).
  bool allow(const std::string& key, int limit, TimePoint now);

 private:
  static constexpr std::size_t kMaxKeys = 16384;
  struct Window {
    TimePoint start{};
    int count = 0;
  };
  Mutex mu_;
  std::map<std::string, Window> windows_ GUARDED_BY(mu_);
};

// The renewal window ARI suggests (RFC 9773 4.2) for `cert`: a window in the past (renew
// now) when it is revoked or was signed by a key the CA no longer has (`by_a_live_key`
// false: rolled over from); from `switch_at`, for kSwitchRenewalWindow, when it ends with
// a CA certificate that a rollover certificate takes over from at `switch_at`; else its
// validity's last third, ending a ninth before expiry. Asked again after `retry_after`.
inline constexpr std::chrono::seconds kSwitchRenewalWindow{900};
struct RenewalWindow {
  TimePoint start{};
  TimePoint end{};
  std::chrono::seconds retry_after{6 * 3600};
};
RenewalWindow renewal_window(const store::CertRecord& cert, bool by_a_live_key,
                             std::optional<TimePoint> switch_at, TimePoint now);

struct RequestContext;  // one request's state (service_internal.h)
struct Jwk;             // acme/jws.h

class AcmeService {
 public:
  explicit AcmeService(ca::Device& device);
  ~AcmeService();  // waits for the validations under way; drops those still queued
  AcmeService(const AcmeService&) = delete;
  AcmeService& operator=(const AcmeService&) = delete;

  AcmeHttpResponse handle(const AcmeHttpRequest& request);

  // Runs the validations queued so far and waits for them (tests).
  void drain_validations();

 private:
  using Context = RequestContext;
  AcmeHttpResponse dispatch(Context& c);
  // A POST: the JWS checks, then the resource.
  AcmeHttpResponse post(Context& c);
  AcmeHttpResponse renewal_info(Context& c, std::string_view cert_id);
  AcmeHttpResponse new_account(Context& c);
  AcmeHttpResponse account(Context& c, const std::string& id, bool orders);
  AcmeHttpResponse new_order(Context& c);
  AcmeHttpResponse order(Context& c, const std::string& id);
  AcmeHttpResponse finalize(Context& c, const std::string& id);
  AcmeHttpResponse authorization(Context& c, const std::string& id);
  AcmeHttpResponse challenge(Context& c, const std::string& authz_id, const std::string& type);
  AcmeHttpResponse certificate(Context& c, const std::string& order_id);
  AcmeHttpResponse revoke(Context& c);
  AcmeHttpResponse key_change(Context& c);
  // Validates a challenge (on a validation thread) and records the outcome.
  void validate_challenge(std::shared_ptr<ca::CertificateServer> server, std::string authz_id,
                          ChallengeType type, std::string key_authorization,
                          ValidationSettings settings, std::string account_id);
  // Deletes expired records now and then (each CA's on its own schedule).
  void maybe_clean_up(Context& c);
  // The key of the account in `c` (from the cache, or parsed and cached).
  Result<std::shared_ptr<const Jwk>> account_key(const Context& c);

  // Queues `job`; false when the queue is full.
  bool enqueue_validation(std::function<void()> job);
  void validation_loop();

  ca::Device& device_;
  NoncePool nonces_;
  RateLimiter limits_;
  // When each CA's expired records were last deleted, by label.
  Mutex cleanup_mu_;
  std::map<std::string, TimePoint> last_cleanup_ GUARDED_BY(cleanup_mu_);
  // Account keys read from the database, by thumbprint, so that an account's requests
  // do not parse its key again (at most kMaxCachedAccountKeys; emptied when full).
  Mutex account_keys_mu_;
  std::map<std::string, std::shared_ptr<const Jwk>> account_keys_ GUARDED_BY(account_keys_mu_);

  Mutex validation_mu_;
  std::condition_variable validation_cv_;
  std::deque<std::function<void()>> validation_queue_ GUARDED_BY(validation_mu_);
  int validations_running_ GUARDED_BY(validation_mu_) = 0;
  std::map<std::string, int> validations_by_account_ GUARDED_BY(validation_mu_);
  bool stopping_ GUARDED_BY(validation_mu_) = false;
  std::vector<std::thread> validation_threads_;

  friend struct ServiceAccess;
};

}  // namespace scepter::acme
