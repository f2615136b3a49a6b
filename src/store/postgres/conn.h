#pragma once
// One connection of the PostgreSQL engine: libpq's PGconn, with the engine's prepared
// statements (schema.h) prepared on first use. Not thread-safe: the pool (pool.h) lends
// a connection to one caller at a time.
//
// Every call waits for the server for at most the connection's timeout (ConnectInfo::
// timeout, counted from the start of the call: from send() or send_pipeline() to the end
// of receive() or receive_pipeline()). A server that keeps the connection open but does
// not answer (hung, or a network path that drops everything) would otherwise hold the
// caller, and the request worker it runs on, for as long as it hangs: TCP keepalives do
// not notice a peer whose kernel still acknowledges. Past the timeout the connection is
// shut down, the call fails with kUnavailable ("no answer ... within N s"), and the
// connection is broken() and timed_out(). Sending is not timed: what the engine sends
// fits in the socket's buffers.

#include <bitset>
#include <chrono>
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
  // How long a call waits for the server's answer (0: for ever).
  std::chrono::milliseconds timeout{10'000};
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
  // The connection was shut down because the server did not answer in time: it was
  // not found dead, so a retry on another connection would most likely wait as long.
  bool timed_out() const { return timed_out_; }
  // The answer timeout of the calls from now on (0: for ever): schema migrations, which
  // may rewrite big tables and wait for another node's migration, run without one.
  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

 private:
  Conn(ConnPtr c, std::chrono::milliseconds timeout) : c_(std::move(c)), timeout_(timeout) {}
  // A call begins: its answer is due within the timeout.
  void start_call();
  // Waits until PQgetResult() would not block, until the call's deadline; past it, shuts
  // the socket down (PQgetResult() then fails at once) and sets timed_out_.
  void await_result();
  // The first error result of what is in flight, else the last result (as PQexec).
  ResultPtr collect();
  // The result of the one statement in flight (its first), once it is complete.
  ResultPtr first_result();
  // The failure of a call whose connection is lost: kUnavailable, naming the timeout
  // when it is the cause.
  Status lost(std::string_view what);
  Status prepare(Sql s, std::string_view what);
  Result<Rows> result_of(ResultPtr r, std::string_view what);
  Status step_status(const Step& step, ResultPtr r);

  ConnPtr c_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_{};
  bool timed_out_ = false;
  std::bitset<kSqlCount> prepared_;
  std::string sqlstate_;
};

}  // namespace scepter::store::pg
