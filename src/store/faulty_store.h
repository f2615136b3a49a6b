#pragma once
// FaultyStore: a Store decorator for tests that fails on demand, the way LevelDB's
// SpecialEnv fakes a full disk. Everything is forwarded to the wrapped store except the
// calls told to fail, which return the given Status without reaching it (so a failed
// write leaves the wrapped store unchanged, as a real failed write would).
//
//   auto base = open_store({"memory:"}).value();
//   FaultyStore store(std::move(base));
//   store.fail_next_writes(1);  // the next write() returns kUnavailable
//
// Thread-safe if the wrapped store is.

#include <condition_variable>
#include <cstdint>
#include <memory>

#include "common/mutex.h"
#include "store/store.h"

namespace scepter::store {

class FaultyStore final : public Store {
 public:
  // Wraps `base`, which must outlive this object.
  explicit FaultyStore(Store& base) : base_(base) {}
  // Wraps and owns `base`.
  explicit FaultyStore(std::unique_ptr<Store> base) : owned_(std::move(base)), base_(*owned_) {}

  // The next `n` writes fail with `why` (default: a full disk, kUnavailable). Writes are
  // write(), delete_requests_created_before() and delete_acme_expired().
  void fail_next_writes(int n, Status why = default_failure());
  // Every write fails with `why` until heal().
  void fail_all_writes(Status why = default_failure());
  // Every read (meta, certificate, iteration, counts, requests, pages, ACME records)
  // fails with `why` until heal().
  void fail_all_reads(Status why = default_failure());
  // Every allocate_serial() and next_request_id() fails with `why` until heal() (a
  // database that cannot be reached; SQLite's counters themselves never fail).
  void fail_all_allocations(Status why = default_failure());
  // Every read waits, without an answer, until heal() (a database that hangs).
  void hang_reads();
  // Back to forwarding everything.
  void heal();
  // Writes failed on purpose so far.
  std::uint64_t failed_writes() const;

  Store& base() { return base_; }

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
  StoreStats stats() const override { return base_.stats(); }
  Status checkpoint() override { return base_.checkpoint(); }

  static Status default_failure() {
    return unavailable("injected failure: no space left on device");
  }

 private:
  Status read_failure() const;        // OK when reads are to be forwarded
  Status write_failure();             // OK when writes are to be forwarded; counts failures
  Status allocation_failure() const;  // OK when allocations are to be forwarded

  std::unique_ptr<Store> owned_;  // declared first: base_ may refer to it
  Store& base_;
  mutable Mutex mu_;
  int fail_writes_ GUARDED_BY(mu_) = 0;  // < 0 means "all"
  Status write_failure_ GUARDED_BY(mu_);
  bool fail_reads_ GUARDED_BY(mu_) = false;
  bool hang_reads_ GUARDED_BY(mu_) = false;
  mutable std::condition_variable healed_;  // hang_reads_ went back to false
  Status read_failure_ GUARDED_BY(mu_);
  bool fail_allocations_ GUARDED_BY(mu_) = false;
  Status allocation_failure_ GUARDED_BY(mu_);
  std::uint64_t failed_writes_ GUARDED_BY(mu_) = 0;
};

}  // namespace scepter::store
