#include "store/store.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "common/url.h"
#include "store/memory/memory_store.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace scepter::store {

void WriteBatch::put_certificate(CertRecord rec) {
  Op op;
  op.kind = Op::Kind::kPutCert;
  op.serial = rec.serial;
  op.cert = std::move(rec);
  ops_.push_back(std::move(op));
}

void WriteBatch::put_request(RequestRecord rec) {
  Op op;
  op.kind = Op::Kind::kPutRequest;
  op.request_id = rec.id;
  op.request = std::move(rec);
  ops_.push_back(std::move(op));
}

void WriteBatch::delete_request(RequestId id) {
  Op op;
  op.kind = Op::Kind::kDeleteRequest;
  op.request_id = id;
  ops_.push_back(std::move(op));
}

void WriteBatch::revoke(Serial serial, TimePoint at, std::optional<int> reason) {
  Op op;
  op.kind = Op::Kind::kRevoke;
  op.serial = serial;
  op.at = at;
  op.reason = reason;
  ops_.push_back(std::move(op));
}

void WriteBatch::unrevoke(Serial serial) {
  Op op;
  op.kind = Op::Kind::kUnrevoke;
  op.serial = serial;
  ops_.push_back(std::move(op));
}

void WriteBatch::put_meta(std::string key, std::string value) {
  Op op;
  op.kind = Op::Kind::kPutMeta;
  op.key = std::move(key);
  op.value = std::move(value);
  ops_.push_back(std::move(op));
}

void WriteBatch::delete_meta(std::string key) {
  Op op;
  op.kind = Op::Kind::kDeleteMeta;
  op.key = std::move(key);
  ops_.push_back(std::move(op));
}

void WriteBatch::delete_meta_if(std::string key, std::string expected) {
  Op op;
  op.kind = Op::Kind::kDeleteMetaIf;
  op.key = std::move(key);
  op.value = std::move(expected);
  ops_.push_back(std::move(op));
}

void WriteBatch::put_acme(AcmeRecord rec) {
  Op op;
  op.kind = Op::Kind::kPutAcme;
  op.acme = std::move(rec);
  ops_.push_back(std::move(op));
}

void WriteBatch::delete_acme(AcmeKind kind, std::string id) {
  Op op;
  op.kind = Op::Kind::kDeleteAcme;
  op.acme.kind = kind;
  op.acme.id = std::move(id);
  ops_.push_back(std::move(op));
}

void WriteBatch::expect_request_state(RequestId id, RequestState state) {
  Op op;
  op.kind = Op::Kind::kExpectRequestState;
  op.request_id = id;
  op.request.id = id;
  op.request.state = state;
  ops_.push_back(std::move(op));
}

void WriteBatch::notify(std::string event) {
  Op op;
  op.kind = Op::Kind::kNotify;
  op.key = std::move(event);
  ops_.push_back(std::move(op));
}

metrics::Histogram& commit_histogram(std::string_view engine) {
  return metrics::Registry::global()
      .histogram("scepter_store_commit_duration_seconds",
                 "Time a transaction waits on the database, from its first statement to its "
                 "durable commit, by engine.",
                 {"engine"})
      .with({engine});
}

const char* request_state_name(RequestState s) {
  switch (s) {
    case RequestState::kInitial:
      return "initial";
    case RequestState::kAuthorized:
      return "authorized";
    case RequestState::kDenied:
      return "denied";
    case RequestState::kGranted:
      return "granted";
    case RequestState::kMalformed:
      return "malformed";
    case RequestState::kPending:
      return "pending";
  }
  return "unknown";
}

namespace {

// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'. A path
// such as "/var/lib/a:b.ser", "data/x.ser" or ":memory:" has none.
std::string_view scheme_of(std::string_view url) {
  const auto colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  const std::string_view scheme = url.substr(0, colon);
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(scheme[0])) return {};
  for (char c : scheme) {
    const bool ok = alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!ok) return {};
  }
  return scheme;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Result<std::string> sqlite_path(std::string_view url, std::string_view rest) {
  const std::string shown = redact_url(url);
  // "sqlite:///abs/path" is the URL spelling of "sqlite:/abs/path"; a host is not allowed.
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    if (!rest.starts_with("/")) {
      return fail(invalid_argument("database URL '" + shown +
                                   "': a sqlite URL names a file, not a host "
                                   "(use sqlite:/path/label.ser)"));
    }
  }
  if (rest.empty()) {
    return fail(invalid_argument("database URL '" + shown + "' has no file path"));
  }
  return std::string(rest);
}

}  // namespace

namespace {

// A process that has the database to itself holds every role.
class ProcessRole final : public RoleLease {
 public:
  bool held() const override { return true; }
};

}  // namespace

Result<std::unique_ptr<RoleLease>> Store::try_take_role(const std::string&) {
  return std::unique_ptr<RoleLease>(std::make_unique<ProcessRole>());
}

namespace {

class NoWatch final : public Watch {};

}  // namespace

Result<std::unique_ptr<Watch>> Store::watch(std::function<void(const std::string&)>) {
  return std::unique_ptr<Watch>(std::make_unique<NoWatch>());
}

// Until an engine keeps ACME records, they are refused with a clear message.
Result<AcmeRecord> Store::acme(AcmeKind, const std::string&) const {
  return fail(unavailable("this database engine does not keep ACME records"));
}
Result<std::vector<AcmeRecord>> Store::acme_by_owner(AcmeKind, const std::string&,
                                                     std::size_t) const {
  return fail(unavailable("this database engine does not keep ACME records"));
}
Status Store::for_each_acme(AcmeKind, const std::function<bool(const AcmeRecord&)>&) const {
  return fail(unavailable("this database engine does not keep ACME records"));
}
Result<std::uint64_t> Store::count_acme(AcmeKind) const {
  return fail(unavailable("this database engine does not keep ACME records"));
}
Result<std::uint64_t> Store::delete_acme_expired(TimePoint) {
  return fail(unavailable("this database engine does not keep ACME records"));
}

Result<std::unique_ptr<Store>> open_store(const StoreConfig& config) {
  const std::string_view url = config.url;
  if (url.empty()) return fail(invalid_argument("empty database URL"));
  const std::string_view scheme = scheme_of(url);
  const std::string_view rest = scheme.empty() ? url : url.substr(scheme.size() + 1);
  const std::string shown = redact_url(url);

  if (scheme.empty() || iequals(scheme, "sqlite")) {
    ASSIGN_OR_RETURN(std::string path, scheme.empty() ? Result<std::string>(std::string(url))
                                                      : sqlite_path(url, rest));
    ASSIGN_OR_RETURN(auto db, SqliteStore::open(path));
    return std::unique_ptr<Store>(std::move(db));
  }
  if (iequals(scheme, "memory")) {
    if (!rest.empty()) {
      return fail(invalid_argument("database URL '" + shown +
                                   "': the memory engine takes no path (use memory:)"));
    }
    return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  }
  if (iequals(scheme, "postgresql") || iequals(scheme, "postgres")) {
    // libpq reads the URL itself (hosts, ports, query parameters such as sslmode or
    // target_session_attrs): it is passed on as typed, but for the scheme, which libpq
    // only knows in lower case (schemes are case-insensitive, RFC 3986).
    std::string pg_url(url);
    for (std::size_t i = 0; i < scheme.size(); ++i) {
      if (pg_url[i] >= 'A' && pg_url[i] <= 'Z') pg_url[i] = static_cast<char>(pg_url[i] + 32);
    }
    ASSIGN_OR_RETURN(auto db, PgStore::open(pg_url));
    return std::unique_ptr<Store>(std::move(db));
  }
  return fail(invalid_argument("database URL '" + shown + "': unknown scheme '" +
                               std::string(scheme) +
                               "' (use sqlite:<path>, a file path, postgresql://... or memory:)"));
}

}  // namespace scepter::store
