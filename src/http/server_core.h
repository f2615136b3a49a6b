#pragma once
// Internal to http/: the state the server (server.cpp: accept, start, stop) shares with
// its connections (connection.h and the files that implement it: the HTTP protocol, the
// only ones with Beast). Only those files include this header, because it brings in Asio.
//
// Threads: each network thread runs its own io_context (as nginx runs one event loop per
// worker), and each connection lives on one of them, handed out in turn at accept: no
// two network threads share a queue, a lock or a wake-up, and a connection needs no
// strand. Handlers run on two WorkerPools (heavy and light requests), so a handler blocked on a
// database commit never delays reading, writing, accepting or timeouts on other
// connections, and light requests never wait behind heavy ones. Inline requests
// (ServerOptions::is_inline) are answered on the network thread that read them, and
// ReadyAnswer::soon runs there too, after the rest (later_queue.h). Over
// TLS, every read and write of a connection happens on its network thread: a worker
// hands its answer over instead of writing it.
//
// Lifetimes: HttpServer owns a shared Core. A connection is owned by its pending
// operation (or by the handler job) and refers to the Core by reference; a handler job
// also holds the Core, so a handler that outlives stop() still finds it. The members
// that ~Connection touches are declared before the io_context, which dies first.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/client_limits.h"
#include "http/server.h"
#include "http/worker_pool.h"

namespace scepter::http {

namespace detail {

class Connection;    // connection.h
struct TlsIdentity;  // connection.h: a pki::TlsServerContext as Asio's TLS stream wants it

// The identity for HttpServer::set_tls() and ServerOptions::tls.
std::shared_ptr<TlsIdentity> make_tls_identity(std::shared_ptr<const pki::TlsServerContext> c);

// The client of a connection.
struct Peer {
  std::string address;  // "192.0.2.1", "2001:db8::1" (IPv4-mapped IPv6 shown as IPv4)
  std::uint16_t port = 0;
  bool limited = false;  // counted in Core::limits (release it when the connection ends)
};

// Serves an accepted socket until the client leaves, a timeout, or stop(): over TLS with
// `tls`, plain HTTP without.
void start_connection(HttpServer::Core& core, boost::asio::ip::tcp::socket socket, Peer peer,
                      std::shared_ptr<TlsIdentity> tls);

// On the connection's network thread: closes it (when `only_idle`, only if it is not
// working on a request), then calls `done`.
void post_close(std::shared_ptr<Connection> conn, bool only_idle, std::function<void()> done);

}  // namespace detail

struct HttpServer::Core : std::enable_shared_from_this<HttpServer::Core> {
  using tcp = boost::asio::ip::tcp;

  // `o.tls` is not kept in `options` (a renewed identity would keep the first one alive):
  // create() puts it in `tls`.
  Core(const ServerOptions& o, Handler h);

  void do_accept();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  // Answers the canned 503 and closes; `counter` counts the refusal.
  void reject(tcp::socket socket, std::atomic<std::uint64_t>& counter);
  // Runs iocs[i] until stop().
  void run_io(std::size_t i);
  // The io_context the next accepted connection lives on (round robin).
  boost::asio::io_context& next_context();
  // Calls the handler; an exception becomes a 500 answer.
  Response call_handler(const Request& request);
  // post_close() on every live connection; waits (bounded) until all of them ran.
  void close_connections(bool only_idle);

  const ServerOptions options;
  const Handler handler;
  std::string where;  // "127.0.0.1:8080", for messages
  std::uint16_t port = 0;
  std::string rejection;  // the canned 503 for connections over a cap
  detail::ClientLimits limits;
  const bool per_address_limits;  // any per-address limit is on

  std::atomic<std::uint64_t> accepted{0}, rejected{0}, active{0}, requests{0};
  std::atomic<std::uint64_t> handler_failures{0}, bad_requests{0}, timeouts{0};
  std::atomic<std::uint64_t> rejected_per_address{0}, rate_limited{0};
  std::atomic<std::uint64_t> heavy_queue_full{0}, heavy_deadline{0};
  std::atomic<std::uint64_t> heavy_queued{0};  // posted heavy jobs not yet started
  std::atomic<std::uint64_t> drained_bytes{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> open_streams{0}, streams_rejected{0}, streams_overflowed{0};
  std::atomic<bool> stopping{false};

  std::mutex lifecycle_mu;  // start()/stop()
  bool started = false;     // GUARDED_BY(lifecycle_mu)
  bool stopped = false;     // GUARDED_BY(lifecycle_mu)
  std::vector<std::thread> io_threads;
  std::unique_ptr<detail::WorkerPool> pool;        // heavy requests (all without is_heavy)
  std::unique_ptr<detail::WorkerPool> light_pool;  // only with is_heavy

  // HTTPS: the identity new connections get (set_tls() replaces it; each connection
  // keeps the one it started with). Fixed at create(): a plain server stays plain.
  const bool serves_tls;
  std::mutex tls_mu;
  std::shared_ptr<detail::TlsIdentity> tls;  // GUARDED_BY(tls_mu); null when !serves_tls

  std::mutex mu;
  std::condition_variable idle_cv;  // `active` dropped to zero
  std::unordered_map<std::uint64_t, std::weak_ptr<detail::Connection>>
      connections;            // GUARDED_BY(mu)
  std::uint64_t next_id = 1;  // GUARDED_BY(mu); 0 marks an unregistered connection

  // Destroyed first (reverse order): pending operations own connections. One io_context
  // per network thread (ServerOptions::io_threads), each run by that thread alone.
  std::vector<std::unique_ptr<boost::asio::io_context>> iocs;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::size_t next_ioc = 0;  // only on the acceptor's strand
  tcp::acceptor acceptor;    // on a strand of iocs[0]: accept and stop() never overlap
  boost::asio::steady_timer accept_retry;
};

}  // namespace scepter::http
