#pragma once
// MemoryStore: the Store contract kept in memory, for tests of the modules above the
// store. Same semantics and error codes as SqliteStore (the contract suite runs against
// both); nothing survives the object. ACME records too (compare-and-set on their
// version, as WriteBatch::put_acme says). Thread-safe: one mutex guards all state.

#include <map>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "store/store.h"

namespace scepter::store {

class MemoryStore final : public Store {
 public:
  MemoryStore() = default;

  Status write(const WriteBatch& batch) override;
  Result<std::optional<std::string>> meta(const std::string& key) const override;
  Result<CertRecord> certificate(Serial serial) const override;
  Status for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const override;
  Result<std::uint64_t> certificate_count() const override;
  Result<Serial> last_serial() const override;
  Status for_each_revocation(const std::function<void(const Revocation&)>& fn) const override;
  Result<RequestRecord> request(RequestId id) const override;
  Result<RequestRecord> request_by_transaction(const std::string& tid) const override;
  Result<std::vector<RequestRecord>> requests() const override;
  Result<std::vector<RequestRecord>> requests_page(RequestId before_id,
                                                   std::size_t limit) const override;
  Status for_each_request(const std::function<bool(const RequestRecord&)>& fn) const override;
  Result<std::uint64_t> count_requests(const std::vector<RequestState>& states) const override;
  Result<std::uint64_t> delete_requests_created_before(TimePoint cutoff) override;
  Result<AcmeRecord> acme(AcmeKind kind, const std::string& id) const override;
  Result<std::vector<AcmeRecord>> acme_by_owner(AcmeKind kind, const std::string& owner,
                                                std::size_t limit) const override;
  Status for_each_acme(AcmeKind kind,
                       const std::function<bool(const AcmeRecord&)>& fn) const override;
  Result<std::uint64_t> count_acme(AcmeKind kind) const override;
  Result<std::uint64_t> delete_acme_expired(TimePoint now) override;
  Result<Serial> allocate_serial() override;
  Result<RequestId> next_request_id() override;
  StoreStats stats() const override;

 private:
  struct Undo;
  Status apply(const WriteBatch::Op& op, std::vector<Undo>& undo) REQUIRES(mu_);
  void roll_back(std::vector<Undo>& undo) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<Serial, CertRecord> certs_ GUARDED_BY(mu_);
  std::map<RequestId, RequestRecord> requests_ GUARDED_BY(mu_);
  std::map<std::string, std::string> meta_ GUARDED_BY(mu_);
  // ACME records by (kind, id): a kind's records are adjacent, in id order.
  using AcmeKey = std::pair<AcmeKind, std::string>;
  std::map<AcmeKey, AcmeRecord> acme_ GUARDED_BY(mu_);
  StoreStats stats_ GUARDED_BY(mu_);
  // The last serial and request id allocated or stored (serial 1 is the CA's).
  Serial last_serial_ GUARDED_BY(mu_) = 1;
  RequestId last_request_id_ GUARDED_BY(mu_) = 0;
};

}  // namespace scepter::store
