#include "store/postgres/conn.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

namespace scepter::store::pg {
namespace {

// NOTICEs (e.g. "relation already exists, skipping") are not for the daemon's stderr.
void ignore_notice(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<Conn>> Conn::connect(const ConnectInfo& info) {
  const std::string timeout = std::to_string(info.connect_timeout_s);
  // libpq applies the entries in order and the last non-empty value wins: those before
  // "dbname" (which expands the URL) are defaults the URL may override, those after it
  // are imposed. Keepalives let a call notice a server that vanished without a reset
  // within about a minute, instead of waiting for the kernel's two hours.
  const char* const keys[] = {
      "connect_timeout",           "keepalives_idle", "keepalives_interval", "keepalives_count",
      "fallback_application_name", "dbname",          "client_encoding",     nullptr};
  const char* const values[] = {timeout.c_str(),  "30",   "10",   "3", "scepterd",
                                info.url.c_str(), "UTF8", nullptr};
  ConnPtr c(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (c == nullptr) return fail(unavailable("out of memory connecting to PostgreSQL"));
  if (PQstatus(c.get()) != CONNECTION_OK) {
    return fail(unavailable(fmt::format("cannot connect to '{}': {}", info.shown,
                                        scrubbed(message_of(c.get()), info.secrets))));
  }
  PQsetNoticeProcessor(c.get(), ignore_notice, nullptr);
  std::unique_ptr<Conn> conn(new Conn(std::move(c), info.timeout));
  // The one-winner arguments (schema.cpp, pg_store.cpp) are READ COMMITTED's: an
  // UPDATE or DELETE that waited for a row lock re-checks its WHERE on the new row. A
  // server configured for a stricter default would fail those with serialization
  // errors instead.
  RETURN_IF_ERROR(conn->script("SET default_transaction_isolation TO 'read committed'",
                               fmt::format("setting up a connection to '{}'", info.shown)));
  return conn;
}

void Conn::start_call() { deadline_ = std::chrono::steady_clock::now() + timeout_; }

void Conn::await_result() {
  PGconn* c = c_.get();
  if (timeout_.count() <= 0 || timed_out_) return;
  while (PQisBusy(c) != 0) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      // PQgetResult() now reads the end of the stream and fails at once; the pool drops
      // the connection, and the server ends the session when it notices.
      timed_out_ = true;
      (void)::shutdown(PQsocket(c), SHUT_RDWR);
      return;
    }
    pollfd fd{PQsocket(c), POLLIN, 0};
    const int n = ::poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
    if (n < 0 && errno != EINTR) return;          // PQgetResult() tells what is wrong
    if (n > 0 && PQconsumeInput(c) == 0) return;  // the connection failed: likewise
  }
}

ResultPtr Conn::collect() {
  ResultPtr kept;
  for (;;) {
    await_result();
    ResultPtr r{PQgetResult(c_.get())};
    if (r == nullptr) return kept;
    if (kept == nullptr || PQresultStatus(kept.get()) != PGRES_FATAL_ERROR) kept = std::move(r);
  }
}

Status Conn::lost(std::string_view what) {
  if (timed_out_) {
    return unavailable(fmt::format("{}: the database did not answer within {} s", what,
                                   std::chrono::duration<double>(timeout_).count()));
  }
  return unavailable(fmt::format("{}: {}", what, message_of(c_.get())));
}

Result<Rows> Conn::result_of(ResultPtr r, std::string_view what) {
  const ExecStatusType st = r != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    sqlstate_.clear();
    return Rows(std::move(r));
  }
  sqlstate_ = sqlstate_of(r.get());
  if (timed_out_) return fail(lost(what));
  return fail(error_of(c_.get(), r.get(), what));
}

Status Conn::prepare(Sql s, std::string_view what) {
  const auto i = static_cast<std::size_t>(s);
  if (prepared_[i]) return ok_status();
  const Statement& st = statement(s);
  std::vector<Oid> types;
  for (char t : st.types) types.push_back(oid_of(t));
  start_call();
  if (PQsendPrepare(c_.get(), st.name.c_str(), st.sql.c_str(), static_cast<int>(types.size()),
                    types.data()) == 0) {
    sqlstate_.clear();
    return lost(what);
  }
  RETURN_IF_ERROR(status_of(result_of(collect(), what)));
  prepared_[i] = true;
  return ok_status();
}

Result<Rows> Conn::run(Sql s, const Params& p, std::string_view what) {
  RETURN_IF_ERROR(send(s, p, what));
  return receive(what);
}

Status Conn::send(Sql s, const Params& p, std::string_view what) {
  RETURN_IF_ERROR(prepare(s, what));
  const Statement& st = statement(s);
  CA_ASSERT(p.size() == static_cast<int>(st.types.size()), "one value per declared parameter");
  start_call();
  if (PQsendQueryPrepared(c_.get(), st.name.c_str(), p.size(), p.values(), p.lengths(), p.formats(),
                          /*resultFormat=*/1) == 0) {
    sqlstate_.clear();
    return lost(what);
  }
  return ok_status();
}

ResultPtr Conn::first_result() {
  // One statement gives one result, then null; an error may come instead of it.
  ResultPtr first;
  for (;;) {
    await_result();
    ResultPtr r{PQgetResult(c_.get())};
    if (r == nullptr) return first;
    if (first == nullptr) first = std::move(r);
  }
}

Result<Rows> Conn::receive(std::string_view what) { return result_of(first_result(), what); }

Status Conn::step_status(const Step& step, ResultPtr r) {
  auto done = result_of(std::move(r), step.what);
  if (!done && !step.on_state.empty() && sqlstate_ == step.on_state) return step.on_state_status;
  return status_of(done);
}

Status Conn::run(const Step& step) {
  RETURN_IF_ERROR(send(step.sql, step.params, step.what));
  return step_status(step, first_result());
}

Status Conn::send_pipeline(const std::vector<Step>& steps) {
  // Preparing is a round trip of its own, once per statement and connection.
  for (const Step& step : steps) RETURN_IF_ERROR(prepare(step.sql, step.what));
  sqlstate_.clear();
  start_call();
  if (PQenterPipelineMode(c_.get()) != 1) {
    return unavailable(fmt::format("entering pipeline mode: {}", message_of(c_.get())));
  }
  for (const Step& step : steps) {
    const Statement& st = statement(step.sql);
    const Params& p = step.params;
    CA_ASSERT(p.size() == static_cast<int>(st.types.size()), "one value per declared parameter");
    if (PQsendQueryPrepared(c_.get(), st.name.c_str(), p.size(), p.values(), p.lengths(),
                            p.formats(), /*resultFormat=*/1) == 0) {
      // Without the sync the server commits nothing; the connection is not reusable.
      return unavailable(fmt::format("{}: {}", step.what, message_of(c_.get())));
    }
  }
  if (PQpipelineSync(c_.get()) != 1) {
    return unavailable(fmt::format("sending a batch: {}", message_of(c_.get())));
  }
  return ok_status();
}

Status Conn::receive_pipeline(const std::vector<Step>& steps) {
  Status first;
  for (const Step& step : steps) {
    // Each statement gives its result (or PGRES_PIPELINE_ABORTED after a failure),
    // then null.
    await_result();
    ResultPtr r(PQgetResult(c_.get()));
    if (r == nullptr) break;  // the connection is gone
    for (;;) {
      await_result();
      if (ResultPtr extra{PQgetResult(c_.get())}; extra == nullptr) break;
    }
    if (first.ok() && PQresultStatus(r.get()) != PGRES_PIPELINE_ABORTED) {
      first = step_status(step, std::move(r));
    }
  }
  // The sync; a failure to commit comes before it.
  for (;;) {
    await_result();
    ResultPtr r(PQgetResult(c_.get()));
    if (r == nullptr) {
      if (first.ok()) first = lost("committing");
      break;
    }
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_PIPELINE_SYNC) break;
    if (first.ok() && st != PGRES_PIPELINE_ABORTED) {
      first = status_of(result_of(std::move(r), "committing"));
    }
  }
  // Leaves pipeline mode once every result is read; otherwise the connection stays in
  // it, is not reusable, and the pool closes it.
  (void)PQexitPipelineMode(c_.get());
  return first;
}

Result<Rows> Conn::query(const char* sql, std::string_view types, const Params& p,
                         std::string_view what) {
  std::vector<Oid> oids;
  for (char t : types) oids.push_back(oid_of(t));
  CA_ASSERT(p.size() == static_cast<int>(oids.size()), "one value per declared parameter");
  start_call();
  if (PQsendQueryParams(c_.get(), sql, p.size(), oids.data(), p.values(), p.lengths(), p.formats(),
                        /*resultFormat=*/1) == 0) {
    sqlstate_.clear();
    return fail(lost(what));
  }
  return result_of(collect(), what);
}

Status Conn::script(const char* sql, std::string_view what) {
  // Like PQexec: the last statement's result, or the error that stopped the script.
  start_call();
  if (PQsendQuery(c_.get(), sql) == 0) {
    sqlstate_.clear();
    return lost(what);
  }
  return status_of(result_of(collect(), what));
}

std::vector<std::string> Conn::notifications() {
  (void)PQconsumeInput(c_.get());
  std::vector<std::string> out;
  while (PGnotify* n = PQnotifies(c_.get())) {
    out.emplace_back(n->extra != nullptr ? n->extra : "");
    PQfreemem(n);
  }
  return out;
}

}  // namespace scepter::store::pg
