#pragma once
// One connection of the PostgreSQL engine: libpq's PGconn, with the engine's prepared
// statements (schema.h) prepared on first use. Not thread-safe: the pool (pool.h) lends
// a connection to one caller at a time.

#include <bitset>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/postgres/pg.h"
#include "store/postgres/schema.h"

namespace scepter::store::pg {

struct ConnectInfo {
  std::string url;                   // as typed: a libpq URL or "key=value" string
  std::string shown;                 // the URL for messages (redacted)
  std::vector<std::string> secrets;  // scrubbed from libpq's messages (secrets_of)
  int connect_timeout_s = 5;         // unless the URL sets connect_timeout
};

class Conn {
 public:
  // Connects (blocking, for at most the connect timeout per host). Fails with
  // kUnavailable naming the redacted URL and libpq's message.
  static Result<std::unique_ptr<Conn>> connect(const ConnectInfo& info);

  // Runs a prepared statement with a binary-format result. A failure is error_of()'s
  // Status; sqlstate() then tells which.
  Result<Rows> run(Sql s, const Params& p, std::string_view what);
  // run() in two halves: send() returns at once; receive() waits for the result. Nothing
  // else may run on the connection in between.
  Status send(Sql s, const Params& p, std::string_view what);
  Result<Rows> receive(std::string_view what);
  // A statement parsed for this one execution (schema work at open).
  Result<Rows> query(const char* sql, std::string_view types, const Params& p,
                     std::string_view what);
  // Several statements in one simple query, no parameters (migrations).
  Status script(const char* sql, std::string_view what);

  // The connection is gone (the server closed it, or the network failed).
  bool broken() const { return PQstatus(c_.get()) != CONNECTION_OK; }
  // broken(), after reading what the server sent meanwhile (without waiting): a session
  // the server ended is noticed without a round trip.
  bool broken_now() {
    (void)PQconsumeInput(c_.get());
    return broken();
  }
  // A listening connection (Store::watch): its socket, to wait on; and the payloads of
  // the notifications that arrived, read without waiting.
  int socket() const { return PQsocket(c_.get()); }
  std::vector<std::string> notifications();

  // Not inside a transaction, and usable: what the pool requires to keep it.
  bool reusable() const { return !broken() && PQtransactionStatus(c_.get()) == PQTRANS_IDLE; }
  // The SQLSTATE of the last failure; empty for a lost connection.
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  explicit Conn(ConnPtr c) : c_(std::move(c)) {}
  Status prepare(Sql s, std::string_view what);
  Result<Rows> result_of(ResultPtr r, std::string_view what);

  ConnPtr c_;
  std::bitset<kSqlCount> prepared_;
  std::string sqlstate_;
};

}  // namespace scepter::store::pg
