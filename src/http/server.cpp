// HttpServer: binding, accepting, start and graceful stop. The HTTP protocol itself is
// in the connection (connection.h); see server_core.h for threads and lifetimes.

#include "http/server.h"

#include <algorithm>
#include <future>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "common/log.h"
#include "http/server_core.h"

namespace scepter::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

std::string endpoint_text(const net::ip::address& addr, std::uint16_t port) {
  if (addr.is_v6()) {
    return "[" + addr.to_string() + "]:" + std::to_string(port);
  }
  return addr.to_string() + ":" + std::to_string(port);
}

detail::ClientLimitsOptions limits_options(const ServerOptions& o) {
  detail::ClientLimitsOptions l;
  l.max_connections = o.max_connections_per_address;
  l.rate = o.max_requests_per_second_per_address;
  l.burst = o.request_burst_per_address;
  l.max_addresses = o.max_tracked_addresses;
  return l;
}

detail::Peer peer_of(const tcp::socket& socket, const ServerOptions& options) {
  detail::Peer peer;
  error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) {
    return peer;  // already gone; the connection ends at its first read
  }
  net::ip::address addr = remote.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
  }
  peer.address = addr.to_string();
  peer.port = remote.port();
  peer.limited = options.limit_loopback || !addr.is_loopback();
  return peer;
}

// The network threads: ServerOptions::io_threads, or one per core.
unsigned network_threads(const ServerOptions& o) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return o.io_threads != 0 ? o.io_threads : cores;
}

// One io_context per network thread, each told that one thread runs it.
std::vector<std::unique_ptr<net::io_context>> make_contexts(unsigned n) {
  std::vector<std::unique_ptr<net::io_context>> out;
  for (unsigned i = 0; i < n; ++i) out.push_back(std::make_unique<net::io_context>(1));
  return out;
}

}  // namespace

namespace {

ServerOptions without_tls(ServerOptions o) {
  o.tls.reset();
  return o;
}

}  // namespace

HttpServer::Core::Core(const ServerOptions& o, Handler h)
    : options(without_tls(o)),
      handler(std::move(h)),
      limits(limits_options(o)),
      per_address_limits(o.max_connections_per_address != 0 ||
                         o.max_requests_per_second_per_address > 0),
      serves_tls(o.tls != nullptr),
      iocs(make_contexts(network_threads(o))),
      acceptor(net::make_strand(*iocs.front())),
      accept_retry(acceptor.get_executor()) {
  const std::string body = "Service Unavailable\n";
  rejection = "HTTP/1.1 503 Service Unavailable\r\nServer: " + options.server_name +
              "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" +
              body;
}

void HttpServer::Core::do_accept() {
  acceptor.async_accept(next_context(), [this](const error_code& ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

net::io_context& HttpServer::Core::next_context() {
  net::io_context& ctx = *iocs[next_ioc];
  next_ioc = (next_ioc + 1) % iocs.size();
  return ctx;
}

void HttpServer::Core::on_accept(const error_code& ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || stopping) {
    return;
  }
  if (ec) {
    // Typically out of file descriptors: pause instead of spinning on the error.
    log::warn("HTTP server on {}: accept failed: {}", where, ec.message());
    accept_retry.expires_after(std::chrono::milliseconds(100));
    accept_retry.async_wait([this](const error_code& ec2) {
      if (!ec2 && !stopping) {
        do_accept();
      }
    });
    return;
  }
  ++accepted;
  if (active >= options.max_connections) {
    reject(std::move(socket), rejected);
  } else {
    detail::Peer peer = peer_of(socket, options);
    peer.limited = peer.limited && per_address_limits && !peer.address.empty();
    if (peer.limited && !limits.open_connection(peer.address, SteadyClock::now())) {
      reject(std::move(socket), rejected_per_address);
    } else {
      std::shared_ptr<detail::TlsIdentity> identity;
      if (serves_tls) {
        std::lock_guard<std::mutex> lock(tls_mu);
        identity = tls;
      }
      detail::start_connection(*this, std::move(socket), std::move(peer), std::move(identity));
    }
  }
  do_accept();
}

// Over a connection cap: a canned 503, written without waiting, then close. The request
// is not read (only what already arrived is discarded, so close does not reset). A TLS
// client gets no answer: it would need a handshake, the work the cap is there to spare.
void HttpServer::Core::reject(tcp::socket socket, std::atomic<std::uint64_t>& counter) {
  ++counter;
  error_code ec;
  socket.non_blocking(true, ec);
  char sink[4096];
  socket.read_some(net::buffer(sink), ec);  // what already arrived, so close does not reset
  if (!serves_tls) {
    socket.write_some(net::buffer(rejection), ec);
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void HttpServer::Core::run_io(std::size_t i) {
  for (;;) {
    try {
      iocs[i]->run();
      return;
    } catch (const std::exception& e) {
      log::error("HTTP server on {}: network thread: {}", where, e.what());
    }
  }
}

Response HttpServer::Core::call_handler(const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    log::error("HTTP {} {} from {}: handler failed: {}", request.method, request.path,
               request.remote_address, e.what());
  } catch (...) {
    log::error("HTTP {} {} from {}: handler failed", request.method, request.path,
               request.remote_address);
  }
  ++handler_failures;
  return Response::text(500, "Internal Server Error\n");
}

void HttpServer::Core::close_connections(bool only_idle) {
  std::vector<std::shared_ptr<detail::Connection>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [id, weak] : connections) {
      if (auto conn = weak.lock()) {
        live.push_back(std::move(conn));
      }
    }
  }
  // The references are dropped outside `mu`: ~Connection takes it.
  auto all_ran = std::make_shared<std::promise<void>>();
  auto pending = std::make_shared<std::atomic<std::size_t>>(live.size() + 1);
  const auto finish_one = [all_ran, pending] {
    if (--*pending == 0) {
      all_ran->set_value();
    }
  };
  for (auto& conn : live) {
    detail::post_close(std::move(conn), only_idle, finish_one);
  }
  live.clear();
  std::future<void> ran = all_ran->get_future();
  finish_one();
  ran.wait_for(std::chrono::seconds(1));
}

HttpServer::HttpServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::create(const ServerOptions& options,
                                                       Handler handler) {
  if (!handler) {
    return fail(invalid_argument("HTTP server needs a handler"));
  }
  const std::string bind_text = options.bind_address.empty() ? "0.0.0.0" : options.bind_address;
  error_code ec;
  const net::ip::address addr = net::ip::make_address(bind_text, ec);
  if (ec) {
    return fail(invalid_argument("invalid HTTP bind address '" + bind_text + "'"));
  }
  try {
    auto core = std::make_shared<Core>(options, std::move(handler));
    if (options.tls) {
      core->tls = detail::make_tls_identity(options.tls);
    }
    core->where = endpoint_text(addr, options.port);
    const tcp::endpoint endpoint(addr, options.port);
    tcp::acceptor& acc = core->acceptor;
    if (acc.open(endpoint.protocol(), ec); ec) {
      return fail(unavailable("cannot open a socket for " + core->where + ": " + ec.message()));
    }
    // Lets a new server bind the port at once after stop(), despite TIME_WAIT connections.
    acc.set_option(net::socket_base::reuse_address(true), ec);
    if (acc.bind(endpoint, ec); ec) {
      return fail(unavailable("cannot bind " + core->where + ": " + ec.message()));
    }
    if (acc.listen(net::socket_base::max_listen_connections, ec); ec) {
      return fail(unavailable("cannot listen on " + core->where + ": " + ec.message()));
    }
    core->port = acc.local_endpoint(ec).port();
    core->where = endpoint_text(addr, core->port);
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
  } catch (const std::exception& e) {
    return fail(unavailable("cannot create HTTP server on " + endpoint_text(addr, options.port) +
                            ": " + e.what()));
  }
}

unsigned default_worker_threads() {
  return std::max(16u, 8 * std::max(1u, std::thread::hardware_concurrency()));
}

Status HttpServer::start() {
  Core& c = *core_;
  std::lock_guard<std::mutex> lock(c.lifecycle_mu);
  if (c.stopped) {
    return unavailable("HTTP server on " + c.where + " was stopped");
  }
  if (c.started) {
    return ok_status();
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned workers =
      c.options.worker_threads != 0 ? c.options.worker_threads : default_worker_threads();
  const unsigned light =
      c.options.light_worker_threads != 0 ? c.options.light_worker_threads : std::max(2u, cores);
  const auto io = static_cast<unsigned>(c.iocs.size());
  try {
    c.pool = std::make_unique<detail::WorkerPool>(workers);
    if (c.options.is_heavy) {
      c.light_pool = std::make_unique<detail::WorkerPool>(light);
    }
    for (const auto& ctx : c.iocs) c.work.push_back(net::make_work_guard(*ctx));
    net::post(c.acceptor.get_executor(), [core = &c] { core->do_accept(); });
    for (std::size_t i = 0; i < c.iocs.size(); ++i) {
      c.io_threads.emplace_back([core = &c, i] { core->run_io(i); });
    }
  } catch (const std::exception& e) {
    c.stopping = true;
    for (const auto& ctx : c.iocs) ctx->stop();
    for (std::thread& t : c.io_threads) {
      t.join();
    }
    c.io_threads.clear();
    for (auto* pool : {&c.pool, &c.light_pool}) {
      if (*pool) {
        (*pool)->shutdown(SteadyClock::now());
      }
    }
    c.stopped = true;
    return unavailable("cannot start HTTP server on " + c.where + ": " + e.what());
  }
  c.started = true;
  if (c.light_pool) {
    log::info("{} server listening on {} ({} network, {} heavy and {} light handler threads)",
              c.serves_tls ? "HTTPS" : "HTTP", c.where, io, workers, light);
  } else {
    log::info("{} server listening on {} ({} network, {} handler threads)",
              c.serves_tls ? "HTTPS" : "HTTP", c.where, io, workers);
  }
  return ok_status();
}

void HttpServer::stop() {
  Core& c = *core_;
  std::lock_guard<std::mutex> lock(c.lifecycle_mu);
  if (c.stopped) {
    return;
  }
  c.stopped = true;
  c.stopping = true;
  error_code ec;
  if (!c.started) {
    c.acceptor.close(ec);  // no thread runs the io_context yet
    return;
  }
  const auto deadline = SteadyClock::now() + c.options.stop_timeout;

  // 1. Stop accepting. Once the acceptor is closed the port is free.
  std::promise<void> closed;
  net::post(c.acceptor.get_executor(), [&c, &closed] {
    error_code ignored;
    c.acceptor.close(ignored);
    c.accept_retry.cancel();
    closed.set_value();
  });
  closed.get_future().wait();

  // 2. Close idle connections. Busy ones close after their answer (keep-alive is off).
  c.close_connections(/*only_idle=*/true);

  // 3. Let requests in flight finish.
  {
    std::unique_lock<std::mutex> lk(c.mu);
    c.idle_cv.wait_until(lk, deadline, [&c] { return c.active == 0; });
  }

  // 4. Close what is left and stop the network threads.
  c.close_connections(/*only_idle=*/false);
  c.work.clear();
  for (const auto& ctx : c.iocs) ctx->stop();
  for (std::thread& t : c.io_threads) {
    t.join();
  }
  c.io_threads.clear();

  // 5. Handlers still running past the deadline finish on their own; the job keeps the
  //    Core alive and the answer is dropped.
  unsigned left = c.pool->shutdown(std::max(deadline, SteadyClock::now()));
  if (c.light_pool) {
    left += c.light_pool->shutdown(std::max(deadline, SteadyClock::now()));
  }
  if (left > 0) {
    log::warn("HTTP server on {}: {} handler(s) still running after stop", c.where, left);
  }
  log::info("HTTP server on {} stopped", c.where);
}

Status HttpServer::set_tls(std::shared_ptr<const pki::TlsServerContext> context) {
  Core& c = *core_;
  if (!context) {
    return invalid_argument("HTTPS server on " + c.where + ": no TLS context");
  }
  if (!c.serves_tls) {
    return invalid_argument("HTTP server on " + c.where + " serves plain HTTP, not TLS");
  }
  std::shared_ptr<detail::TlsIdentity> identity = detail::make_tls_identity(std::move(context));
  std::lock_guard<std::mutex> lock(c.tls_mu);
  c.tls.swap(identity);
  return ok_status();  // the old identity goes when its last connection does
}

std::uint16_t HttpServer::port() const { return core_->port; }

const std::string& HttpServer::address() const { return core_->options.bind_address; }

ServerStats HttpServer::stats() const {
  const Core& c = *core_;
  ServerStats s;
  s.connections_accepted = c.accepted;
  s.connections_rejected = c.rejected;
  s.active_connections = c.active;
  s.requests = c.requests;
  s.handler_failures = c.handler_failures;
  s.bad_requests = c.bad_requests;
  s.timeouts = c.timeouts;
  s.bytes_drained = c.drained_bytes;
  s.tls_handshake_failures = c.tls_handshake_failures;
  s.connections_rejected_per_address = c.rejected_per_address;
  s.requests_rate_limited = c.rate_limited;
  s.heavy_rejected_queue_full = c.heavy_queue_full;
  s.heavy_rejected_deadline = c.heavy_deadline;
  s.heavy_queued = c.heavy_queued;
  s.tracked_addresses = c.limits.size();
  s.address_evictions = c.limits.evictions();
  s.event_streams = c.open_streams;
  s.event_streams_rejected = c.streams_rejected;
  s.event_streams_overflowed = c.streams_overflowed;
  return s;
}

}  // namespace scepter::http
