#pragma once
// The main certificate server database (the IOS ".ser" file): the last serial, the
// enrollment request database, the issued-certificate index and the revocations.
//
// One interface, several engines: SqliteStore (embedded default, a file `<label>.ser`),
// MemoryStore (tests), PostgresStore (later: several scepterd nodes on one CA). No SQL
// or engine type appears outside the engine's folder.
//
// Durability: when write() returns OK, the batch is on stable storage (SQLite WAL with
// synchronous=FULL). Engines may group concurrent batches into one transaction and one
// fsync; each caller still waits for its own batch to be durable.
//
// Thread safety: every method may be called from several threads at once.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace scepter::store {

using Serial = std::uint64_t;  // scepterd issues small sequential serials (CA = 1)
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
};

struct CertRecord {
  Serial serial = 0;
  std::string der;      // the certificate (DER)
  std::string subject;  // IOS display form
  TimePoint not_before{};
  TimePoint not_after{};
  std::optional<TimePoint> revoked_at;  // set once revoked
  RequestId request_id = 0;             // 0 for certificates not issued from a request
};

struct Revocation {
  Serial serial = 0;
  TimePoint at{};
};

// A set of changes applied atomically by Store::write(), in order.
class WriteBatch {
 public:
  // Inserts a certificate; the batch fails with kAlreadyExists if the serial exists.
  void put_certificate(CertRecord rec);
  // Inserts or replaces a request (keyed by id).
  void put_request(RequestRecord rec);
  void delete_request(RequestId id);
  // Marks a certificate revoked; fails with kNotFound if the serial is unknown and
  // kAlreadyExists if it is already revoked.
  void revoke(Serial serial, TimePoint at);
  // Small named values: "last_serial", "last_request_id", "crl_number", "otp", ...
  void put_meta(std::string key, std::string value);
  void delete_meta(std::string key);

  bool empty() const { return ops_.empty(); }

  struct Op {
    enum class Kind { kPutCert, kPutRequest, kDeleteRequest, kRevoke, kPutMeta, kDeleteMeta };
    Kind kind;
    CertRecord cert;
    RequestRecord request;
    RequestId request_id = 0;
    Serial serial = 0;
    TimePoint at{};
    std::string key;
    std::string value;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the whole batch or nothing; durable when it returns OK.
  virtual Status write(const WriteBatch& batch) = 0;

  virtual Result<std::optional<std::string>> meta(const std::string& key) const = 0;

  // Fails with kNotFound if no certificate has this serial.
  virtual Result<CertRecord> certificate(Serial serial) const = 0;
  // Visits certificates in serial order; stops early when `fn` returns false.
  virtual Status for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const = 0;
  virtual Result<std::uint64_t> certificate_count() const = 0;
  // Visits every revocation in serial order (used to rebuild the CRL at start-up).
  virtual Status for_each_revocation(const std::function<void(const Revocation&)>& fn) const = 0;

  // Fails with kNotFound if there is no such request.
  virtual Result<RequestRecord> request(RequestId id) const = 0;
  // The newest request carrying this SCEP transactionID, or kNotFound.
  virtual Result<RequestRecord> request_by_transaction(const std::string& tid) const = 0;
  // All requests, newest (highest id) first.
  virtual Result<std::vector<RequestRecord>> requests() const = 0;
};

struct StoreConfig {
  // "sqlite:/path/label.ser", "memory:", later "postgresql://...".
  std::string url;
};

// Picks the engine from the URL. Creates the database if it does not exist.
// Fails with kUnavailable when the file or server cannot be opened.
Result<std::unique_ptr<Store>> open_store(const StoreConfig& config);

}  // namespace scepter::store
