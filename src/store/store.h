#pragma once
// The main certificate server database (the IOS ".ser" file): the last serial, the
// enrollment request database, the issued-certificate index and the revocations.
//
// One interface, several engines: SqliteStore (embedded default, a file `<label>.ser`),
// MemoryStore (tests), PgStore (PostgreSQL: several scepterd nodes on one CA). No SQL
// or engine type appears outside the engine's folder.
//
// Durability: when write() returns OK, the batch is on stable storage (SQLite WAL with
// synchronous=FULL; PostgreSQL once its COMMIT succeeded). Engines may group concurrent
// batches into one transaction and one fsync; each caller still waits for its own batch
// to be durable.
//
// Thread safety: every method may be called from several threads at once.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"

namespace scepter::store {

// The sequence number of a certificate's serial (pki/serial_number.h): scepterd numbers
// certificates sequentially (CA = 1), and this is what the database keys on.
using Serial = std::uint64_t;
using RequestId = std::int64_t;

// The states of the seed's Table 3 (plus "rejected" is spelled "denied" as in IOS).
enum class RequestState : int {
  kInitial = 0,
  kAuthorized = 1,
  kDenied = 2,
  kGranted = 3,
  kMalformed = 4,
  kPending = 5,
};
const char* request_state_name(RequestState s);  // "pending", "granted", ...

// Which table of `info requests` a request belongs to.
enum class RequestKind : int {
  kRouter = 0,          // "Router certificates requests"
  kRa = 1,              // "RA certificate requests" (subject has cn/ou=ioscs RA)
  kSubCa = 2,           // "Subordinate CA certificate requests"
  kRouterRollover = 3,  // "Router rollover certificates requests"
  kRaRollover = 4,      // "RA rollover certificate requests"
};

struct RequestRecord {
  RequestId id = 0;  // ReqID; never reused
  RequestState state = RequestState::kInitial;
  RequestKind kind = RequestKind::kRouter;
  std::string transaction_id;    // SCEP transactionID; empty for manual requests
  std::string csr_der;           // the PKCS#10 as received (DER)
  std::string fingerprint;       // MD5 of csr_der, 32 upper-case hex digits
  std::string subject;           // IOS display form ("hostname=r1,cn=r1")
  TimePoint created{};           // for lifetime enrollment-request
  std::optional<Serial> serial;  // the certificate, once granted
  std::string signer_cert_der;   // SCEP: certificate that signed the request
  int flags = 0;                 // engine-opaque bits for the CA (e.g. OTP used)
  std::string reason;            // why it was refused or dropped, for the operator; may be empty
};

struct CertRecord {
  Serial serial = 0;
  std::string der;      // the certificate (DER)
  std::string subject;  // IOS display form
  TimePoint not_before{};
  TimePoint not_after{};
  std::optional<TimePoint> revoked_at;  // set once revoked
  // RFC 5280 CRLReason code given at revocation, if any. put_certificate fails the
  // batch with kInvalidArgument for a code that is not a CRLReason (is_crl_reason) or a
  // code without revoked_at.
  std::optional<int> revocation_reason;
  RequestId request_id = 0;  // 0 for certificates not issued from a request
  // The certificate this one renewed (rollover, re-enrolment), if any. Not checked
  // against the table: the predecessor may have been removed or imported elsewhere.
  // Above kMaxSerial fails the batch with kInvalidArgument.
  std::optional<Serial> predecessor;
  // The 64 random bits after the sequence number in the certificate's serial, for
  // certificates issued while a weak hash was in force (pki/serial_number.h).
  std::optional<std::uint64_t> serial_entropy;
};

struct Revocation {
  Serial serial = 0;
  TimePoint at{};
  std::optional<int> reason;                    // the CRLReason code, if one was given
  std::optional<std::uint64_t> serial_entropy;  // as in the certificate's CertRecord
};

// Whether `code` is an RFC 5280 CRLReason a revocation may record: 0 (unspecified) to 10
// (aACompromise), but not 7, which the RFC leaves unassigned. removeFromCRL (8) is
// accepted here; the CA does not offer it.
constexpr bool is_crl_reason(int code) { return code >= 0 && code <= 10 && code != 7; }

// The largest serial an engine accepts (SQL engines keep serials in a signed 64-bit
// column). A larger serial fails the batch with kInvalidArgument.
inline constexpr Serial kMaxSerial = 0x7fffffffffffffffULL;

// ACME (RFC 8555) objects of a CA, which the acme module keeps as opaque bodies (its own
// JSON): accounts, the index from an account key's thumbprint to its account, orders and
// authorizations. Keyed by (kind, id).
enum class AcmeKind : int {
  kAccount = 0,        // id: the account id; owner: ""
  kAccountKey = 1,     // id: the JWK thumbprint of an account's key; owner: the account id
  kOrder = 2,          // id: the order id; owner: the account id
  kAuthorization = 3,  // id: the authorization id; owner: the account id
};

struct AcmeRecord {
  AcmeKind kind = AcmeKind::kAccount;
  std::string id;     // at most 128 bytes
  std::string owner;  // at most 128 bytes; "" for none
  std::string body;   // at most 64 KiB
  // When the record may be deleted (Store::delete_acme_expired); TimePoint{} (the
  // epoch): never.
  TimePoint expires{};
  // Optimistic concurrency: 0 for a record not stored yet; as read, the stored version.
  // Each put_acme of a record stores version + 1.
  std::int64_t version = 0;
};

// A set of changes applied atomically by Store::write(), in order: a later op sees the
// effect of an earlier one (revoke after put_certificate of the same serial works, and
// unrevoke after revoke).
// Recording an op never fails; the checks happen in write(). Not thread-safe.
class WriteBatch {
 public:
  // Inserts a certificate; the batch fails with kAlreadyExists if the serial exists and
  // kInvalidArgument if it is above kMaxSerial.
  void put_certificate(CertRecord rec);
  // Inserts or replaces a request (keyed by id). If rec.serial is set, that certificate
  // must already exist (earlier in this batch, or stored): otherwise the batch fails with
  // kInvalidArgument. On an engine several processes share (Store::shared()), a request
  // whose non-empty transaction_id another stored request carries fails the batch with
  // kAlreadyExists: of two nodes storing a request for one SCEP transaction, one wins.
  // (One process serialises its own requests per transaction.)
  void put_request(RequestRecord rec);
  // Removes a request; deleting an unknown id is not an error.
  void delete_request(RequestId id);
  // Marks a certificate revoked, with the RFC 5280 CRLReason code if one is given;
  // fails with kNotFound if the serial is unknown, kAlreadyExists if it is already
  // revoked and kInvalidArgument if `reason` is not a CRLReason (is_crl_reason).
  void revoke(Serial serial, TimePoint at, std::optional<int> reason = std::nullopt);
  // Takes a revocation back (`unrevoke`): the certificate is no longer revoked (its
  // reason goes too) and may be revoked again. Fails with kNotFound if the serial is unknown and
  // kInvalidArgument if it is not revoked.
  void unrevoke(Serial serial);
  // Small named values: "last_serial", "last_request_id", "crl_number", "otp", ...
  // Keys starting with "schema_" are reserved for the engines.
  void put_meta(std::string key, std::string value);
  // Removes a value; deleting an unknown key is not an error.
  void delete_meta(std::string key);
  // Removes a value only if it is present and equal to `expected` (byte for byte) when
  // the batch is applied; otherwise the whole batch fails with kNotFound. For one-time
  // values (an enrolment password): of two batches consuming the same value, however
  // concurrent, exactly one succeeds.
  void delete_meta_if(std::string key, std::string expected);
  // Fails the whole batch with kAborted unless request `id` exists and is in `state` when
  // the batch is applied: a decision taken on what was read earlier (grant, reject)
  // lands only if nobody decided meanwhile, in this process or another one.
  void expect_request_state(RequestId id, RequestState state);
  // Stores an ACME record. With rec.version 0 it must not exist yet (else the batch
  // fails with kAlreadyExists); otherwise the stored record must have exactly
  // rec.version (else the batch fails with kAborted: someone changed it since it was
  // read; kNotFound when it is gone). The stored version becomes rec.version + 1. Ids,
  // owners or bodies over their bounds fail the batch with kInvalidArgument.
  void put_acme(AcmeRecord rec);
  // Removes an ACME record; deleting an unknown one is not an error.
  void delete_acme(AcmeKind kind, std::string id);
  // Tells the other processes sharing the database that `event` happened, once the batch
  // commits (Store::watch). Engines one process has to itself drop it.
  void notify(std::string event);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  void clear() { ops_.clear(); }

  struct Op {
    enum class Kind {
      kPutCert,
      kPutRequest,
      kDeleteRequest,
      kRevoke,
      kUnrevoke,
      kPutMeta,
      kDeleteMeta,
      kDeleteMetaIf,        // `value` holds the expected value
      kExpectRequestState,  // `request_id` in state `request.state`
      kNotify,              // `key` is the event
      kPutAcme,             // `acme`
      kDeleteAcme,          // `acme.kind`, `acme.id`
    };
    Kind kind = Kind::kPutCert;
    CertRecord cert;
    RequestRecord request;
    RequestId request_id = 0;
    Serial serial = 0;
    TimePoint at{};
    std::optional<int> reason;  // kRevoke: the CRLReason code, if any
    std::string key;
    std::string value;
    AcmeRecord acme;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// Counters for tests and /metrics. Engines that do not count return zeros.
struct StoreStats {
  std::uint64_t batches_written = 0;  // write() calls that returned OK (empty ones too)
  std::uint64_t batches_failed = 0;   // write() calls that returned an error
  std::uint64_t commits = 0;          // durable commits (one fsync each for SQLite)
  std::uint64_t largest_group = 0;    // most batches ever committed together
};

// /metrics: the time engines wait on their database for a transaction, from its first
// statement to its durable COMMIT (SQLite: one group commit, fsync included;
// PostgreSQL: the round trips, without the work the caller overlaps with them).
metrics::Histogram& commit_histogram(std::string_view engine);

// A role that one process at a time may hold among all those sharing a database (the
// scepterd node that serves a CA). Released when destroyed.
class RoleLease {
 public:
  virtual ~RoleLease() = default;
  // False once the hold is lost (PostgreSQL: its session ended, which takes a round
  // trip to learn); the holder must then stop acting in the role.
  virtual bool held() const = 0;
};

// Events from other processes (Store::watch); they stop when this is destroyed.
class Watch {
 public:
  virtual ~Watch() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the whole batch or nothing; durable when it returns OK. On error nothing of
  // the batch is applied: the codes of WriteBatch (kAlreadyExists, kNotFound,
  // kInvalidArgument), or kUnavailable when the disk or database fails. A failing batch
  // never affects other callers' batches, even when they share a commit.
  virtual Status write(const WriteBatch& batch) = 0;
  // write(), running `meanwhile` on the calling thread while the batch commits: for work
  // that may start before the batch is durable but must not be shown before it is (the
  // CA signs the reply that carries a new certificate while the certificate's row is
  // flushed; it sends the reply only on OK). `meanwhile` runs exactly once, whatever the
  // outcome. The result is write()'s; should `meanwhile` throw, the exception leaves
  // write_overlapped() once the batch is committed or has failed.
  // Engines that cannot overlap the two (this default) run `meanwhile` first. An empty
  // `meanwhile` is write().
  virtual Status write_overlapped(const WriteBatch& batch, const std::function<void()>& meanwhile) {
    if (meanwhile) meanwhile();
    return write(batch);
  }

  virtual Result<std::optional<std::string>> meta(const std::string& key) const = 0;

  // --- Serials and request ids -------------------------------------------------------
  //
  // Both allocators are atomic across threads and never return a value they returned
  // before for this database, also after the process restarts, as long as every value
  // that left the CA was committed first (a certificate row is written before the
  // certificate is sent; a request row before its id is shown). A value allocated but
  // never committed may come back after a restart. Values are increasing within one
  // process but may have gaps (a failed issue wastes its serial). Nor do they return a
  // serial or id that write() has already stored, so explicit values may be mixed in.
  // SQLite keeps the counters in memory, initialised at open (no I/O per call; one
  // writer process per file); PostgreSQL keeps them in a table row shared by every
  // node, raised inside the transaction of a batch that stores a larger value.
  //
  // The next certificate serial: one above the largest serial ever stored or allocated.
  // On an empty database the first one is 2 (serial 1 is the CA's own certificate).
  // At open SQLite starts after max(largest certificate serial, meta "last_serial",
  // 1). Fails with kInvalidArgument once kMaxSerial has been reached (never in
  // practice), kUnavailable if the database cannot be reached.
  virtual Result<Serial> allocate_serial() = 0;
  // The next request id, starting at 1. Ids are never reused, also after the request is
  // deleted (delete_request, expiry): engines keep a high-water mark that every batch
  // with put_request raises in the same transaction (SQLite: meta
  // "schema_last_request_id"); at open SQLite starts after max(that mark, largest
  // stored id, meta "last_request_id"). Fails like allocate_serial.
  virtual Result<RequestId> next_request_id() = 0;

  // Fails with kNotFound if no certificate has this serial.
  virtual Result<CertRecord> certificate(Serial serial) const = 0;
  // Visits certificates in serial order; stops early when `fn` returns false. Engines
  // read in bounded chunks (memory does not grow with the table) and call `fn` with no
  // lock held, so `fn` may call this Store, writes included. The walk is not a
  // snapshot: a certificate written meanwhile is seen if its serial is still ahead.
  virtual Status for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const = 0;
  virtual Result<std::uint64_t> certificate_count() const = 0;
  // The largest serial of a stored certificate (committed, so never one only allocated),
  // or 0 when there is none: IOS's "Last certificate issued serial number". One indexed
  // read. Fails with kUnavailable if the database cannot be read.
  virtual Result<Serial> last_serial() const = 0;
  // Visits every revocation in serial order (used to rebuild the CRL at start-up). Same
  // chunking and locking as for_each_certificate.
  virtual Status for_each_revocation(const std::function<void(const Revocation&)>& fn) const = 0;

  // Fails with kNotFound if there is no such request.
  virtual Result<RequestRecord> request(RequestId id) const = 0;
  // The newest request carrying this SCEP transactionID, or kNotFound. An empty tid
  // (manual requests have none) matches nothing.
  virtual Result<RequestRecord> request_by_transaction(const std::string& tid) const = 0;
  // All requests, newest (highest id) first. Loads the whole table: for small databases
  // and tests; servers use requests_page(), for_each_request() and count_requests().
  virtual Result<std::vector<RequestRecord>> requests() const = 0;
  // Up to `limit` requests with an id below `before_id` (0: from the newest), newest
  // first. The next page starts before the last id returned; a page shorter than
  // `limit` is the last one. Memory grows with `limit` (0 gives an empty page).
  virtual Result<std::vector<RequestRecord>> requests_page(RequestId before_id,
                                                           std::size_t limit) const = 0;
  // Visits requests in ascending id order; stops early when `fn` returns false. Same
  // chunking, locking and (non-)snapshot rules as for_each_certificate: `fn` may call
  // this Store, writes included.
  virtual Status for_each_request(const std::function<bool(const RequestRecord&)>& fn) const = 0;
  // How many requests are in any of `states` (repeats count once); an empty list counts
  // every request. One indexed count: no rows are loaded.
  virtual Result<std::uint64_t> count_requests(const std::vector<RequestState>& states) const = 0;
  // Deletes every request created strictly before `cutoff` (lifetime enrollment-request)
  // in one durable transaction, without loading rows, and returns how many went. Their
  // ids are not reused. Fails with kUnavailable when the disk or database fails (then
  // nothing is deleted).
  virtual Result<std::uint64_t> delete_requests_created_before(TimePoint cutoff) = 0;

  // --- ACME records ----------------------------------------------------------------
  //
  // One record, or kNotFound.
  virtual Result<AcmeRecord> acme(AcmeKind kind, const std::string& id) const;
  // The records of `kind` whose owner is `owner`, in id order; at most `limit` (then the
  // caller knows there may be more).
  virtual Result<std::vector<AcmeRecord>> acme_by_owner(AcmeKind kind, const std::string& owner,
                                                        std::size_t limit) const;
  // Visits the records of `kind` in id order; stops early when `fn` returns false. Same
  // chunking, locking and (non-)snapshot rules as for_each_certificate.
  virtual Status for_each_acme(AcmeKind kind,
                               const std::function<bool(const AcmeRecord&)>& fn) const;
  virtual Result<std::uint64_t> count_acme(AcmeKind kind) const;
  // Deletes every record whose expires is set and strictly before `now`, in one durable
  // transaction; returns how many went.
  virtual Result<std::uint64_t> delete_acme_expired(TimePoint now);

  virtual StoreStats stats() const { return {}; }

  // Takes `role` unless another process holds it on this database: the lease, or null
  // when another holds it. Engines that one process has to itself (SQLite: one writer
  // process per file; memory) grant every call. PostgreSQL: a session advisory lock on a
  // connection of its own, kept by the lease. kUnavailable when the database cannot be
  // reached.
  virtual Result<std::unique_ptr<RoleLease>> try_take_role(const std::string& role);

  // Other processes may write this database at the same time (PostgreSQL): what a node
  // keeps in memory from it (the CRL) must follow their changes (watch()).
  virtual bool shared() const { return false; }
  // Calls `fn(event)` for every event that a batch of another process notified
  // (WriteBatch::notify), on a thread of the engine, one call at a time, soon after that
  // batch committed; and `fn("")` when events may have been missed (the engine lost its
  // connection and has it again): the caller then re-reads what it keeps. Never the
  // events of this Store's own batches. Engines one process has to itself never call it.
  // kUnavailable when the database cannot be reached (the watch retries by itself once
  // started).
  virtual Result<std::unique_ptr<Watch>> watch(std::function<void(const std::string&)> fn);

  // Moves everything written so far into the main database file, so that copying that
  // one file (the IOS-style backup of LABEL.ser) captures it. A no-op for engines
  // without a separate log.
  virtual Status checkpoint() { return ok_status(); }
};

struct StoreConfig {
  // "sqlite:/path/label.ser", "sqlite:///path/label.ser", a bare path ("/path/label.ser",
  // "data/label.ser"; ":memory:" is a private SQLite database), "memory:" (MemoryStore),
  // a libpq URL "postgresql://user:pw@host:port/db?..." or "postgres://..." (PgStore).
  std::string url;
};

// Picks the engine from the URL. Creates the database if it does not exist (but not its
// directory; for PostgreSQL the tables, not the database). Fails with kInvalidArgument
// for an empty URL, an unknown scheme or a PostgreSQL URL libpq cannot parse, and with
// kUnavailable when the file or server cannot be opened: missing directory, permission
// denied, server unreachable, not a database, or a newer schema. Messages show a URL's
// password as "***".
Result<std::unique_ptr<Store>> open_store(const StoreConfig& config);

}  // namespace scepter::store
