#include "store/memory/memory_store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "store/acme_check.h"

namespace scepter::store {

// What it takes to reverse one applied op: the previous value of the touched entry,
// or nothing if the op created it.
struct MemoryStore::Undo {
  enum class Table { kCert, kRequest, kMeta, kAcme };
  static Undo of_cert(Serial serial, std::optional<CertRecord> before) {
    Undo u;
    u.table = Table::kCert;
    u.serial = serial;
    u.cert = std::move(before);
    return u;
  }
  static Undo of_request(RequestId id, std::optional<RequestRecord> before) {
    Undo u;
    u.table = Table::kRequest;
    u.request_id = id;
    u.request = std::move(before);
    return u;
  }
  static Undo of_meta(std::string key, std::optional<std::string> before) {
    Undo u;
    u.table = Table::kMeta;
    u.key = std::move(key);
    u.value = std::move(before);
    return u;
  }

  static Undo of_acme(AcmeKey key, std::optional<AcmeRecord> before) {
    Undo u;
    u.table = Table::kAcme;
    u.acme_key = std::move(key);
    u.acme = std::move(before);
    return u;
  }

  Table table = Table::kCert;
  Serial serial = 0;
  RequestId request_id = 0;
  std::string key;
  std::optional<CertRecord> cert;
  std::optional<RequestRecord> request;
  std::optional<std::string> value;
  AcmeKey acme_key;
  std::optional<AcmeRecord> acme;
};

Status MemoryStore::apply(const WriteBatch::Op& op, std::vector<Undo>& undo) {
  using Kind = WriteBatch::Op::Kind;
  switch (op.kind) {
    case Kind::kPutCert: {
      if (op.cert.serial > kMaxSerial) {
        return invalid_argument(fmt::format("serial {:#x} is too large", op.cert.serial));
      }
      if (certs_.contains(op.cert.serial)) {
        return already_exists(
            fmt::format("a certificate with serial {:#x} already exists", op.cert.serial));
      }
      if (op.cert.predecessor && *op.cert.predecessor > kMaxSerial) {
        return invalid_argument(
            fmt::format("predecessor {:#x} is too large", *op.cert.predecessor));
      }
      if (op.cert.revocation_reason &&
          (!op.cert.revoked_at || !is_crl_reason(*op.cert.revocation_reason))) {
        return invalid_argument(
            fmt::format("certificate {:#x}: revocation reason {} {}", op.cert.serial,
                        *op.cert.revocation_reason,
                        op.cert.revoked_at ? "is not a CRLReason" : "without a revocation"));
      }
      certs_.emplace(op.cert.serial, op.cert);
      // A rolled-back batch leaves the counter raised: a skipped serial is harmless.
      last_serial_ = std::max(last_serial_, op.cert.serial);
      undo.push_back(Undo::of_cert(op.cert.serial, std::nullopt));
      return ok_status();
    }
    case Kind::kRevoke: {
      if (op.reason && !is_crl_reason(*op.reason)) {
        return invalid_argument(fmt::format("revocation reason {} is not a CRLReason", *op.reason));
      }
      auto it = certs_.find(op.serial);
      if (it == certs_.end()) {
        return not_found(fmt::format("no certificate with serial {:#x}", op.serial));
      }
      if (it->second.revoked_at) {
        return already_exists(fmt::format("certificate {:#x} is already revoked", op.serial));
      }
      undo.push_back(Undo::of_cert(op.serial, it->second));
      it->second.revoked_at = op.at;
      it->second.revocation_reason = op.reason;
      return ok_status();
    }
    case Kind::kUnrevoke: {
      auto it = certs_.find(op.serial);
      if (it == certs_.end()) {
        return not_found(fmt::format("no certificate with serial {:#x}", op.serial));
      }
      if (!it->second.revoked_at) {
        return invalid_argument(fmt::format("certificate {:#x} is not revoked", op.serial));
      }
      undo.push_back(Undo::of_cert(op.serial, it->second));
      it->second.revoked_at.reset();
      it->second.revocation_reason.reset();
      return ok_status();
    }
    case Kind::kPutRequest: {
      const RequestRecord& rec = op.request;
      if (rec.serial && !certs_.contains(*rec.serial)) {
        return invalid_argument(
            fmt::format("request {} refers to unknown certificate {:#x}", rec.id, *rec.serial));
      }
      last_request_id_ = std::max(last_request_id_, rec.id);
      auto it = requests_.find(rec.id);
      if (it != requests_.end()) {
        undo.push_back(Undo::of_request(rec.id, std::move(it->second)));
        it->second = rec;
      } else {
        undo.push_back(Undo::of_request(rec.id, std::nullopt));
        requests_.emplace(rec.id, rec);
      }
      return ok_status();
    }
    case Kind::kDeleteRequest: {
      auto it = requests_.find(op.request_id);
      if (it != requests_.end()) {
        undo.push_back(Undo::of_request(op.request_id, it->second));
        requests_.erase(it);
      }
      return ok_status();
    }
    case Kind::kPutMeta:
    case Kind::kDeleteMeta: {
      auto it = meta_.find(op.key);
      Undo u = Undo::of_meta(op.key, it != meta_.end() ? std::optional(it->second) : std::nullopt);
      if (op.kind == Kind::kPutMeta) {
        meta_[op.key] = op.value;
      } else if (it != meta_.end()) {
        meta_.erase(it);
      }
      undo.push_back(std::move(u));
      return ok_status();
    }
    case Kind::kDeleteMetaIf: {
      auto it = meta_.find(op.key);
      if (it == meta_.end() || it->second != op.value) {
        return not_found(fmt::format("'{}' is not set to the expected value", op.key));
      }
      undo.push_back(Undo::of_meta(op.key, std::move(it->second)));
      meta_.erase(it);
      return ok_status();
    }
    case Kind::kExpectRequestState: {
      auto it = requests_.find(op.request_id);
      if (it == requests_.end() || it->second.state != op.request.state) {
        return aborted(fmt::format("request {} is no longer {}", op.request_id,
                                   request_state_name(op.request.state)));
      }
      return ok_status();
    }
    case Kind::kNotify:
      return ok_status();  // no other process shares this database
    case Kind::kPutAcme: {
      RETURN_IF_ERROR(check_acme_record(op.acme));
      AcmeKey key{op.acme.kind, op.acme.id};
      auto it = acme_.find(key);
      const char* what = acme_kind_name(op.acme.kind);
      if (op.acme.version == 0) {
        if (it != acme_.end()) {
          return already_exists(fmt::format("{} '{}' already exists", what, op.acme.id));
        }
        AcmeRecord rec = op.acme;
        rec.version = 1;
        acme_.emplace(key, std::move(rec));
        undo.push_back(Undo::of_acme(std::move(key), std::nullopt));
        return ok_status();
      }
      if (it == acme_.end()) return not_found(fmt::format("no {} '{}'", what, op.acme.id));
      if (it->second.version != op.acme.version) {
        return aborted(fmt::format("{} '{}' is at version {}, not {}", what, op.acme.id,
                                   it->second.version, op.acme.version));
      }
      undo.push_back(Undo::of_acme(key, it->second));
      it->second = op.acme;
      it->second.version = op.acme.version + 1;
      return ok_status();
    }
    case Kind::kDeleteAcme: {
      auto it = acme_.find(AcmeKey{op.acme.kind, op.acme.id});
      if (it != acme_.end()) {
        undo.push_back(Undo::of_acme(it->first, std::move(it->second)));
        acme_.erase(it);
      }
      return ok_status();
    }
  }
  return internal_error("unknown write op");
}

void MemoryStore::roll_back(std::vector<Undo>& undo) {
  for (auto u = undo.rbegin(); u != undo.rend(); ++u) {
    switch (u->table) {
      case Undo::Table::kCert:
        if (u->cert) {
          certs_[u->serial] = std::move(*u->cert);
        } else {
          certs_.erase(u->serial);
        }
        break;
      case Undo::Table::kRequest:
        if (u->request) {
          requests_[u->request_id] = std::move(*u->request);
        } else {
          requests_.erase(u->request_id);
        }
        break;
      case Undo::Table::kMeta:
        if (u->value) {
          meta_[u->key] = std::move(*u->value);
        } else {
          meta_.erase(u->key);
        }
        break;
      case Undo::Table::kAcme:
        if (u->acme) {
          acme_[u->acme_key] = std::move(*u->acme);
        } else {
          acme_.erase(u->acme_key);
        }
        break;
    }
  }
}

Status MemoryStore::write(const WriteBatch& batch) {
  MutexLock lock(mu_);
  std::vector<Undo> undo;
  undo.reserve(batch.size());
  for (const auto& op : batch.ops()) {
    Status s = apply(op, undo);
    if (!s.ok()) {
      roll_back(undo);
      ++stats_.batches_failed;
      return s;
    }
  }
  ++stats_.batches_written;
  if (!batch.empty()) {
    ++stats_.commits;
    stats_.largest_group = 1;
  }
  return ok_status();
}

Result<std::optional<std::string>> MemoryStore::meta(const std::string& key) const {
  MutexLock lock(mu_);
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<CertRecord> MemoryStore::certificate(Serial serial) const {
  MutexLock lock(mu_);
  auto it = certs_.find(serial);
  if (it == certs_.end())
    return fail(not_found(fmt::format("no certificate with serial {:#x}", serial)));
  return it->second;
}

// One element per lock: the callback runs unlocked (it may call back into the store) and
// the walk resumes after the last serial seen, like the SQLite engine's keyset cursor.
Status MemoryStore::for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const {
  std::optional<Serial> last;
  for (;;) {
    CertRecord rec;
    {
      MutexLock lock(mu_);
      auto it = last ? certs_.upper_bound(*last) : certs_.begin();
      if (it == certs_.end()) return ok_status();
      rec = it->second;
    }
    last = rec.serial;
    if (!fn(rec)) return ok_status();
  }
}

Result<std::uint64_t> MemoryStore::certificate_count() const {
  MutexLock lock(mu_);
  return static_cast<std::uint64_t>(certs_.size());
}

Result<Serial> MemoryStore::last_serial() const {
  MutexLock lock(mu_);
  return certs_.empty() ? Serial{0} : certs_.rbegin()->first;
}

Status MemoryStore::for_each_revocation(const std::function<void(const Revocation&)>& fn) const {
  std::optional<Serial> last;
  for (;;) {
    Revocation rev;
    {
      MutexLock lock(mu_);
      auto it = last ? certs_.upper_bound(*last) : certs_.begin();
      while (it != certs_.end() && !it->second.revoked_at) ++it;
      if (it == certs_.end()) return ok_status();
      rev = {.serial = it->first,
             .at = *it->second.revoked_at,
             .reason = it->second.revocation_reason,
             .serial_entropy = it->second.serial_entropy};
    }
    last = rev.serial;
    fn(rev);
  }
}

Result<RequestRecord> MemoryStore::request(RequestId id) const {
  MutexLock lock(mu_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return fail(not_found(fmt::format("no request with id {}", id)));
  return it->second;
}

Result<RequestRecord> MemoryStore::request_by_transaction(const std::string& tid) const {
  MutexLock lock(mu_);
  if (tid.empty()) return fail(not_found("no request with an empty transaction id"));
  for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
    if (it->second.transaction_id == tid) return it->second;
  }
  return fail(not_found(fmt::format("no request with transaction id '{}'", tid)));
}

Result<std::vector<RequestRecord>> MemoryStore::requests() const {
  MutexLock lock(mu_);
  std::vector<RequestRecord> out;
  out.reserve(requests_.size());
  for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) out.push_back(it->second);
  return out;
}

Result<std::vector<RequestRecord>> MemoryStore::requests_page(RequestId before_id,
                                                              std::size_t limit) const {
  MutexLock lock(mu_);
  std::vector<RequestRecord> out;
  auto it = before_id == 0 ? requests_.end() : requests_.lower_bound(before_id);
  while (out.size() < limit && it != requests_.begin()) {
    --it;
    out.push_back(it->second);
  }
  return out;
}

Status MemoryStore::for_each_request(const std::function<bool(const RequestRecord&)>& fn) const {
  std::optional<RequestId> last;
  for (;;) {
    RequestRecord rec;
    {
      MutexLock lock(mu_);
      auto it = last ? requests_.upper_bound(*last) : requests_.begin();
      if (it == requests_.end()) return ok_status();
      rec = it->second;
    }
    last = rec.id;
    if (!fn(rec)) return ok_status();
  }
}

Result<std::uint64_t> MemoryStore::count_requests(const std::vector<RequestState>& states) const {
  MutexLock lock(mu_);
  std::uint64_t n = 0;
  for (const auto& [id, rec] : requests_) {
    if (states.empty() || std::find(states.begin(), states.end(), rec.state) != states.end()) {
      ++n;
    }
  }
  return n;
}

Result<std::uint64_t> MemoryStore::delete_requests_created_before(TimePoint cutoff) {
  MutexLock lock(mu_);
  const auto n =
      std::erase_if(requests_, [&](const auto& kv) { return kv.second.created < cutoff; });
  ++stats_.commits;
  return static_cast<std::uint64_t>(n);
}

Result<AcmeRecord> MemoryStore::acme(AcmeKind kind, const std::string& id) const {
  MutexLock lock(mu_);
  auto it = acme_.find(AcmeKey{kind, id});
  if (it == acme_.end())
    return fail(not_found(fmt::format("no {} '{}'", acme_kind_name(kind), id)));
  return it->second;
}

Result<std::vector<AcmeRecord>> MemoryStore::acme_by_owner(AcmeKind kind, const std::string& owner,
                                                           std::size_t limit) const {
  MutexLock lock(mu_);
  std::vector<AcmeRecord> out;
  for (auto it = acme_.lower_bound(AcmeKey{kind, ""});
       out.size() < limit && it != acme_.end() && it->first.first == kind; ++it) {
    if (it->second.owner == owner) out.push_back(it->second);
  }
  return out;
}

// One record per lock, resuming after the last id seen (as for_each_certificate).
Status MemoryStore::for_each_acme(AcmeKind kind,
                                  const std::function<bool(const AcmeRecord&)>& fn) const {
  std::optional<std::string> last;
  for (;;) {
    AcmeRecord rec;
    {
      MutexLock lock(mu_);
      auto it =
          last ? acme_.upper_bound(AcmeKey{kind, *last}) : acme_.lower_bound(AcmeKey{kind, ""});
      if (it == acme_.end() || it->first.first != kind) return ok_status();
      rec = it->second;
    }
    last = rec.id;
    if (!fn(rec)) return ok_status();
  }
}

Result<std::uint64_t> MemoryStore::count_acme(AcmeKind kind) const {
  MutexLock lock(mu_);
  std::uint64_t n = 0;
  for (auto it = acme_.lower_bound(AcmeKey{kind, ""}); it != acme_.end() && it->first.first == kind;
       ++it) {
    ++n;
  }
  return n;
}

Result<std::uint64_t> MemoryStore::delete_acme_expired(TimePoint now) {
  MutexLock lock(mu_);
  const auto n = std::erase_if(acme_, [&](const auto& kv) {
    return kv.second.expires != TimePoint{} && kv.second.expires < now;
  });
  ++stats_.commits;
  return static_cast<std::uint64_t>(n);
}

Result<Serial> MemoryStore::allocate_serial() {
  MutexLock lock(mu_);
  if (last_serial_ >= kMaxSerial) {
    return fail(invalid_argument(fmt::format("no serial left above {:#x}", last_serial_)));
  }
  return ++last_serial_;
}

Result<RequestId> MemoryStore::next_request_id() {
  MutexLock lock(mu_);
  if (last_request_id_ == std::numeric_limits<RequestId>::max()) {
    return fail(invalid_argument("no request id left"));
  }
  return ++last_request_id_;
}

StoreStats MemoryStore::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace scepter::store
