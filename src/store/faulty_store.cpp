#include "store/faulty_store.h"

#include <utility>

namespace scepter::store {

void FaultyStore::fail_next_writes(int n, Status why) {
  MutexLock lock(mu_);
  fail_writes_ = n > 0 ? n : 0;
  write_failure_ = std::move(why);
}

void FaultyStore::fail_all_writes(Status why) {
  MutexLock lock(mu_);
  fail_writes_ = -1;
  write_failure_ = std::move(why);
}

void FaultyStore::fail_all_reads(Status why) {
  MutexLock lock(mu_);
  fail_reads_ = true;
  read_failure_ = std::move(why);
}

void FaultyStore::fail_all_allocations(Status why) {
  MutexLock lock(mu_);
  fail_allocations_ = true;
  allocation_failure_ = std::move(why);
}

void FaultyStore::hang_reads() {
  MutexLock lock(mu_);
  hang_reads_ = true;
}

void FaultyStore::heal() {
  {
    MutexLock lock(mu_);
    fail_writes_ = 0;
    fail_reads_ = false;
    fail_allocations_ = false;
    hang_reads_ = false;
  }
  healed_.notify_all();
}

std::uint64_t FaultyStore::failed_writes() const {
  MutexLock lock(mu_);
  return failed_writes_;
}

Status FaultyStore::write_failure() {
  MutexLock lock(mu_);
  if (fail_writes_ == 0) return ok_status();
  if (fail_writes_ > 0) --fail_writes_;
  ++failed_writes_;
  return write_failure_;
}

Status FaultyStore::allocation_failure() const {
  MutexLock lock(mu_);
  return fail_allocations_ ? allocation_failure_ : ok_status();
}

Status FaultyStore::write(const WriteBatch& batch) {
  RETURN_IF_ERROR(write_failure());
  return base_.write(batch);
}

Status FaultyStore::read_failure() const {
  UniqueMutexLock lock(mu_);
  while (hang_reads_) lock.wait(healed_);
  return fail_reads_ ? read_failure_ : ok_status();
}

Result<std::optional<std::string>> FaultyStore::meta(const std::string& key) const {
  RETURN_IF_ERROR(read_failure());
  return base_.meta(key);
}

Result<CertRecord> FaultyStore::certificate(Serial serial) const {
  RETURN_IF_ERROR(read_failure());
  return base_.certificate(serial);
}

Status FaultyStore::for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const {
  RETURN_IF_ERROR(read_failure());
  return base_.for_each_certificate(fn);
}

Result<std::uint64_t> FaultyStore::certificate_count() const {
  RETURN_IF_ERROR(read_failure());
  return base_.certificate_count();
}

Result<Serial> FaultyStore::last_serial() const {
  RETURN_IF_ERROR(read_failure());
  return base_.last_serial();
}

Status FaultyStore::for_each_revocation(const std::function<void(const Revocation&)>& fn) const {
  RETURN_IF_ERROR(read_failure());
  return base_.for_each_revocation(fn);
}

Result<RequestRecord> FaultyStore::request(RequestId id) const {
  RETURN_IF_ERROR(read_failure());
  return base_.request(id);
}

Result<RequestRecord> FaultyStore::request_by_transaction(const std::string& tid) const {
  RETURN_IF_ERROR(read_failure());
  return base_.request_by_transaction(tid);
}

Result<std::vector<RequestRecord>> FaultyStore::requests() const {
  RETURN_IF_ERROR(read_failure());
  return base_.requests();
}

Result<std::vector<RequestRecord>> FaultyStore::requests_page(RequestId before_id,
                                                              std::size_t limit) const {
  RETURN_IF_ERROR(read_failure());
  return base_.requests_page(before_id, limit);
}

Status FaultyStore::for_each_request(const std::function<bool(const RequestRecord&)>& fn) const {
  RETURN_IF_ERROR(read_failure());
  return base_.for_each_request(fn);
}

Result<std::uint64_t> FaultyStore::count_requests(const std::vector<RequestState>& states) const {
  RETURN_IF_ERROR(read_failure());
  return base_.count_requests(states);
}

Result<std::uint64_t> FaultyStore::delete_requests_created_before(TimePoint cutoff) {
  RETURN_IF_ERROR(write_failure());
  return base_.delete_requests_created_before(cutoff);
}

Result<AcmeRecord> FaultyStore::acme(AcmeKind kind, const std::string& id) const {
  RETURN_IF_ERROR(read_failure());
  return base_.acme(kind, id);
}

Result<std::vector<AcmeRecord>> FaultyStore::acme_by_owner(AcmeKind kind, const std::string& owner,
                                                           std::size_t limit) const {
  RETURN_IF_ERROR(read_failure());
  return base_.acme_by_owner(kind, owner, limit);
}

Status FaultyStore::for_each_acme(AcmeKind kind,
                                  const std::function<bool(const AcmeRecord&)>& fn) const {
  RETURN_IF_ERROR(read_failure());
  return base_.for_each_acme(kind, fn);
}

Result<std::uint64_t> FaultyStore::count_acme(AcmeKind kind) const {
  RETURN_IF_ERROR(read_failure());
  return base_.count_acme(kind);
}

Result<std::uint64_t> FaultyStore::delete_acme_expired(TimePoint now) {
  RETURN_IF_ERROR(write_failure());
  return base_.delete_acme_expired(now);
}

Result<Serial> FaultyStore::allocate_serial() {
  RETURN_IF_ERROR(allocation_failure());
  return base_.allocate_serial();
}

Result<RequestId> FaultyStore::next_request_id() {
  RETURN_IF_ERROR(allocation_failure());
  return base_.next_request_id();
}

}  // namespace scepter::store
