#include "store/faulty_store.h"

#include <utility>

namespace scepter::store {

void FaultyStore::fail_next_writes(int n, Status why) {
  std::lock_guard lock(mu_);
  fail_writes_ = n > 0 ? n : 0;
  write_failure_ = std::move(why);
}

void FaultyStore::fail_all_writes(Status why) {
  std::lock_guard lock(mu_);
  fail_writes_ = -1;
  write_failure_ = std::move(why);
}

void FaultyStore::fail_all_reads(Status why) {
  std::lock_guard lock(mu_);
  fail_reads_ = true;
  read_failure_ = std::move(why);
}

void FaultyStore::heal() {
  std::lock_guard lock(mu_);
  fail_writes_ = 0;
  fail_reads_ = false;
}

std::uint64_t FaultyStore::failed_writes() const {
  std::lock_guard lock(mu_);
  return failed_writes_;
}

Status FaultyStore::write(const WriteBatch& batch) {
  {
    std::lock_guard lock(mu_);
    if (fail_writes_ != 0) {
      if (fail_writes_ > 0) --fail_writes_;
      ++failed_writes_;
      return write_failure_;
    }
  }
  return base_.write(batch);
}

Status FaultyStore::read_failure() const {
  std::lock_guard lock(mu_);
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

}  // namespace scepter::store
