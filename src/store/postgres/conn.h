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

// A prepared statement to run, what it does (for messages), and what one failure of it
// means: a failure with SQLSTATE `on_state` is `on_state_status` (a used serial is
// kAlreadyExists); any other is error_of()'s.
struct Step {
  Sql sql;
  Params params;
  std::string what;
  std::string_view on_state = {};
  Status on_state_status = ok_status();
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
  // Runs one step.
  Status run(const Step& step);
  // Sends the steps in one pipeline ending with a sync, one round trip for all: the
  // server runs them as one implicit transaction, committed at the sync if every one
  // succeeded; after a failure it skips the rest and commits nothing. A failure here
  // sent nothing the server will commit (a statement could not be prepared, or the
  // connection is lost).
  Status send_pipeline(const std::vector<Step>& steps);
  // The outcome of the pipeline sent: OK once committed, or the first failure (the
  // step's, or the commit's). If the connection is lost (broken()), whether the
  // transaction committed is unknown. Nothing else may run on the connection between
  // send_pipeline() and this.
  Status receive_pipeline(const std::vector<Step>& steps);
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
  bool reusable() const {
    return !broken() && PQtransactionStatus(c_.get()) == PQTRANS_IDLE &&
           PQpipelineStatus(c_.get()) == PQ_PIPELINE_OFF;
  }
  // The SQLSTATE of the last failure; empty for a lost connection.
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  explicit Conn(ConnPtr c) : c_(std::move(c)) {}
  Status prepare(Sql s, std::string_view what);
  Result<Rows> result_of(ResultPtr r, std::string_view what);
  Status step_status(const Step& step, ResultPtr r);

  ConnPtr c_;
  std::bitset<kSqlCount> prepared_;
  std::string sqlstate_;
};

}  // namespace scepter::store::pg
