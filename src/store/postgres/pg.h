#pragma once
// RAII and small helpers over libpq for the PostgreSQL engine (the only folder where
// <libpq-fe.h> is seen): owners for PGconn and PGresult, the parameters of one
// statement, typed reads from a binary-format result, and the mapping of server errors
// to our codes. None of these types is thread-safe.

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scepter::store::pg {

struct FinishConn {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ClearResult {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, FinishConn>;
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// Parameter types, one letter per $n in a statement's declaration (schema.cpp). The
// letters fix both the type the server parses and the format we send.
//   'i' bigint (binary)   'n' integer (binary)   'b' bytea (binary)   't' text (binary)
//   'a' integer[] (text: "{1,2}")
Oid oid_of(char type);

// The values of one execution, in $n order. Strings are not copied: they must outlive
// the execution. An empty string is sent as an empty value, never as NULL.
class Params {
 public:
  // Moves keep the values in place; a copy would point into the original.
  Params() = default;
  Params(Params&&) = default;
  Params& operator=(Params&&) = default;
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;

  Params& int8(std::int64_t v);
  Params& int4(std::int32_t v);
  Params& bytes(std::string_view v);   // bytea or text, as the statement declares; not copied
  Params& owned_bytes(std::string v);  // bytes(), kept by the Params
  Params& int4_array(const std::vector<int>& v);
  Params& null();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void add(const char* p, std::size_t n, int format);
  std::deque<std::string> owned_;  // integers in network order; a deque keeps them in place
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A result in binary format. Integer columns may be smallint, integer or bigint.
class Rows {
 public:
  explicit Rows(ResultPtr r) : r_(std::move(r)) {}
  int size() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::int64_t int64(int row, int col) const;
  std::string bytes(int row, int col) const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::uint64_t affected() const;

 private:
  ResultPtr r_;
};

// SQLSTATE classes and codes the engine acts on.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kForeignKeyViolation = "23503";
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";

// Maps a failed execution to our codes: a unique violation is kAlreadyExists; a foreign
// key, check or not-null violation and bad data (class 22) kInvalidArgument; a lost
// connection, a server shutting down or out of resources, an I/O error, a refused
// permission, a missing table or database, and serialization failures or deadlocks
// (class 40, retried by the engine first) kUnavailable; anything else (our SQL is wrong)
// kInternal. The message carries `what`, the server's message and the SQLSTATE.
Status error_of(PGconn* conn, const PGresult* r, std::string_view what);
// The SQLSTATE of a failed result; empty when there is none (a lost connection).
std::string sqlstate_of(const PGresult* r);

// The Status of a Result: OK when it holds a value.
template <class T>
Status status_of(const Result<T>& r) {
  return r.has_value() ? ok_status() : r.error();
}

// libpq's last message for `conn`, on one line.
std::string message_of(PGconn* conn);

// Replaces every occurrence of a secret (a password in the URL, raw and percent-decoded)
// in `text` by "***": libpq may quote parts of the URL it could not parse.
std::string scrubbed(std::string text, const std::vector<std::string>& secrets);
// The passwords written in a libpq URL or "key=value" string.
std::vector<std::string> secrets_of(std::string_view url);

}  // namespace scepter::store::pg
