#pragma once
// The HTTP/1.x server of scepterd: SCEP at /cgi-bin/pkiclient.exe (and any path ending in
// pkiclient.exe), later the REST API, the web UI and /metrics.
//
// Clients are real network devices: Cisco IOS speaks HTTP/1.0 and closes after each
// reply; others keep HTTP/1.1 connections open and may pipeline. The server reads one
// request at a time per connection, hands it to the Handler on a worker thread (handlers
// may block on crypto and database commits without stalling other connections), or
// calls it on the network thread for the cheap requests ServerOptions::is_inline picks,
// and writes the Response with Content-Length, Content-Type, Date and
// "Server: scepterd".
//
// The server answers by itself, and closes the connection, when a request is malformed
// (400), its body is over the limit (413) or its header is over the limit (431), and
// when a client or the server is over a limit (503 or 429 with Retry-After; see
// ServerOptions). A declared Content-Length over the limit is refused as soon as the
// header is in, without reading the body; before closing, the server reads and drops at
// most 4 MiB (for at most 2 s) of what the client still sends, so that a client that
// writes its whole body before it reads gets the answer, not a reset. A Handler
// that throws yields 500; the server keeps running. Connections that trickle bytes are
// cut off by the read timeout.
//
// HTTPS: with ServerOptions::tls the server speaks only TLS on its port (1.2 and 1.3; see
// pki/tls_context.h), with every behaviour above unchanged inside the TLS connection. The
// TLS handshake counts against the read timeout of the first request. A client that
// fails the handshake (plain HTTP, an old TLS version, garbage) is closed without an
// answer and counted in ServerStats::tls_handshake_failures. A client certificate is
// asked for but not required, and not judged: Request::peer_certificate_der carries it
// to the handler, which decides what it is worth.
//
// No Boost type appears here: Asio lives in server.cpp and the connection's files
// (connection.h) only, Beast and Asio's TLS stream in the connection's files only.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/event_stream.h"
#include "http/query.h"

namespace scepter::pki {
class TlsServerContext;  // pki/tls_context.h
}  // namespace scepter::pki

namespace scepter::http {

using Header = std::pair<std::string, std::string>;

// One parsed request, owned by the server for the duration of the Handler call.
struct Request {
  std::string method;           // "GET", "POST", "HEAD", ... as sent (methods are case-sensitive)
  std::string target;           // the raw request-target, e.g. "/cgi-bin/pkiclient.exe?operation=X"
  std::string path;             // percent-decoded path without the query, always starts with '/'
  std::string query;            // raw query string (after '?'), undecoded
  QueryParams params;           // parsed `query`; each value also available undecoded
  std::vector<Header> headers;  // in the order received, names as sent
  std::string body;             // any bytes
  std::string remote_address;   // "127.0.0.1", "::1" (IPv4-mapped IPv6 shown as IPv4)
  std::uint16_t remote_port = 0;
  int version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
  bool tls = false;  // the request came over TLS (HTTPS)
  // The DER certificate the client presented in the TLS handshake (its own, the first
  // of its chain), or empty: a plain connection, or a TLS client without a certificate.
  // NOT VERIFIED: it may come from any CA, be self-signed, expired or revoked. The TLS
  // handshake only proves that the client holds its private key. Whether it identifies
  // anyone is for the handler to decide (the CA looks it up among its own certificates).
  std::string peer_certificate_der;
  // When the server had read the request whole (its latency, queueing included, is
  // measured from here).
  std::chrono::steady_clock::time_point received{};

  // The value of the first header called `name` (compared case-insensitively), or nullopt.
  // The view points into this Request.
  std::optional<std::string_view> header(std::string_view name) const;
};

// What a Handler answers. The server sets Content-Length, Date, Server and Connection;
// headers in `headers` with those names (or with CR/LF in them) are dropped.
struct Response {
  int status = 200;          // 200..599; anything else is sent as 500
  std::string content_type;  // "text/plain" when empty
  std::string body;
  // Immutable bytes shared with whoever else holds them (a cached CRL, the CA
  // certificate's DER): when set, they are sent instead of `body`, without a copy. The
  // server keeps a reference until they are written.
  std::shared_ptr<const std::string> shared_body;
  std::vector<Header> headers;  // extra headers, e.g. {"Cache-Control", "no-store"}
  // Set: an answer that does not end (see event_stream.h). The server sends the status
  // line and the header (Content-Type "text/event-stream" when content_type is empty,
  // Cache-Control: no-store, no Content-Length, Connection: close), then what is pushed
  // into the stream; `body` is not sent. Over ServerOptions::max_event_streams the
  // client gets 503 instead. A HEAD request gets the header only.
  std::shared_ptr<EventStream> stream;

  // The bytes to send: *shared_body when set, else body.
  std::string_view payload() const { return shared_body ? *shared_body : body; }

  // A short text/plain response, e.g. text(404, "Not Found\n").
  static Response text(int status, std::string body);
};

// Called once per request, on a worker thread (of the heavy or the light pool, see
// ServerOptions::is_heavy), concurrently with other calls: it must be thread-safe. It
// may block. Exceptions are caught by the server and answered with 500.
using Handler = std::function<Response(const Request&)>;

// Dispatches a request to a handler by path: exact paths first, then predicate routes in
// the order they were added. No match: 404 with a short text body. A route that lists
// methods answers other methods with 405 and an Allow header; HEAD goes where GET is
// allowed. Build it fully before the server starts; routing is then read-only and
// thread-safe. A Router is itself a Handler (copyable, callable).
class Router {
 public:
  using PathPredicate = std::function<bool(std::string_view path)>;

  // `methods` empty: any method.
  void add(std::string path, Handler handler, std::vector<std::string> methods = {});
  void add_if(PathPredicate matches, Handler handler, std::vector<std::string> methods = {});

  Response operator()(const Request& request) const;

 private:
  struct Route {
    std::string path;       // exact routes
    PathPredicate matches;  // predicate routes
    Handler handler;
    std::vector<std::string> methods;
  };
  static Response dispatch(const Route& route, const Request& request);

  std::vector<Route> exact_;
  std::vector<Route> predicates_;
};

// RFC 9110 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), for handlers' Last-Modified and
// Expires headers.
std::string format_http_date(std::time_t t);

// True when the path's last segment is "pkiclient.exe" (any case), as SCEP clients build
// it from their enrollment URL: "/cgi-bin/pkiclient.exe", "/scep/pkiclient.exe".
bool is_pkiclient_path(std::string_view path);

// A predicate on a parsed request, for ServerOptions::is_heavy. Called on a network
// thread for every request: it must be fast, must not block and must not throw.
using RequestPredicate = std::function<bool(const Request&)>;

// What ServerOptions::answer_ready gives for a request: an answer to send at once (`now`),
// work that makes the answer on the network thread after the rest (`soon`), or neither
// (the request goes on to the worker pools like any other).
//
// `soon` is for an answer that costs CPU and nothing else: no I/O, no lock held for
// long, no token (for scepterd: an OCSP response signed for a nonce, with a status the
// responder already knows and a key in memory). Handing such work to a worker and back
// costs two thread wake-ups, a seventh of an RSA-2048 signature on a virtual machine
// (docs/performance.md, "OCSP"). The network thread that read the request runs it once it
// has run what is ready on its loop, one such job per trip through the loop, so a
// request that arrives meanwhile waits for the job running and at most one more, never
// for the whole queue. Its nullopt (or an exception) sends the request on to the pools after all.
struct ReadyAnswer {
  ReadyAnswer() = default;
  ReadyAnswer(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): "nothing ready"
  ReadyAnswer(std::optional<Response> r)
      : now(std::move(r)) {}                      // NOLINT(google-explicit-constructor)
  ReadyAnswer(Response r) : now(std::move(r)) {}  // NOLINT(google-explicit-constructor)

  std::optional<Response> now;
  std::function<std::optional<Response>(const Request&)> soon;  // given the same request
};

// Limits and timeouts. The defaults suit a deployment on the open network and leave room
// for a single busy client such as the SCEP benchmark (16 keep-alive connections, about
// 1,300 enrolments and 50k GetCACaps per second). Refusals by the server carry
// "Retry-After" and close the connection.
struct ServerOptions {
  std::string bind_address = "0.0.0.0";  // numeric IPv4 or IPv6 ("127.0.0.1", "::1", "::")
  std::uint16_t port = 80;               // 0: an ephemeral port, see HttpServer::port()
  unsigned worker_threads = 0;           // heavy-request threads; 0: max(16, 8 x cores)
  unsigned light_worker_threads = 0;     // light-request threads; 0: max(2, cores)
  unsigned io_threads = 0;               // network threads; 0: one per core
  std::size_t max_body_bytes = 1 << 20;  // larger bodies: 413 and close (a declared
                                         // Content-Length: before the body is read)
  // The 413 of a body over max_body_bytes, for protocols that answer errors in their own
  // format (ACME's problem documents): given the request's path, a Content-Type and body,
  // or nullopt for the plain-text default.
  std::function<std::optional<std::pair<std::string, std::string>>(std::string_view path)>
      too_large_answer;
  std::size_t max_header_bytes = 64 << 10;         // request line + headers; larger: 431 and close
                                                   // (GET PKIOperation carries the CMS in the URL)
  std::size_t max_connections = 1024;              // beyond it: 503 and close at once
  std::chrono::milliseconds read_timeout{10'000};  // connect (or, on keep-alive, the first
                                                   // byte) to the last byte of a request
  std::chrono::milliseconds idle_timeout{30'000};  // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds stop_timeout{5'000};  // stop(): wait for in-flight requests
  std::string server_name = "scepterd";           // the Server header
  std::vector<Header> response_headers;           // added to every response
  // Set: the port speaks HTTPS only, with this identity (HttpServer::set_tls() replaces
  // it later). Null (the default): plain HTTP. Over TLS, refusals for the connection caps
  // close the connection without the 503 (it would need a handshake first).
  std::shared_ptr<const pki::TlsServerContext> tls;

  // --- Per client address (IPv4-mapped IPv6 counts as the IPv4 address) ---

  // Open connections one address may hold (default 64; 0: no cap). One address must not
  // take all of max_connections; a real client needs a few (IOS: one at a time), a NAT
  // gateway in front of many devices some dozens. Beyond it the new connection gets a
  // canned 503 with "Retry-After: 1" and is closed before its request is read.
  std::size_t max_connections_per_address = 64;
  // Token bucket of requests per address: refills at this rate per second up to the
  // burst; each request takes one token (default 1000/s, burst 2000; rate 0: no cap).
  // An enrolment is a few requests, so the default only ever stops floods. Over it, the
  // request is answered, before its body is read, with 429 Too Many Requests and a
  // Retry-After of the seconds until a token is back. 429 rather than 503 because the
  // cause is this client, not the server's load: other clients are still served, and
  // logs and counters tell the two apart.
  double max_requests_per_second_per_address = 1000;
  double request_burst_per_address = 2000;
  // Addresses the table above remembers without an open connection (default 16384, a
  // few MB at most). Addresses with connections are always tracked (at most
  // max_connections of them); beyond this bound the least recently used of the others
  // is forgotten, so clients with many source addresses cannot grow it.
  std::size_t max_tracked_addresses = 16384;
  // Whether the per-address limits apply to loopback clients (127.0.0.0/8, ::1). Off by
  // default: a reverse proxy or a monitoring agent on the same machine speaks for many
  // clients through one address, and a local user can exhaust the machine anyway. The
  // global limits (max_connections, the heavy queue) always apply.
  bool limit_loopback = false;

  // --- Three classes of work ---

  // Which requests are heavy (for scepterd: PKIOperation, which signs and commits to the
  // database). Heavy requests run on the worker_threads pool behind a bounded queue;
  // the others (GetNextCACert, and anything is_inline does not pick) run on their own
  // light_worker_threads pool, so they are answered while enrolments wait. The light
  // pool has its own threads rather than the network threads because a light handler
  // may still sign (GetNextCACert, once per rollover) or wait on a lock; its queue
  // needs no bound of its own, since a connection has at most one request in flight
  // (max_connections bounds it).
  // Empty (the default): every request is heavy, as a handler may block.
  RequestPredicate is_heavy;
  // Which requests the handler answers on the network thread that read them, without a
  // hand-off to a worker and back (for scepterd: GetCACaps, GetCACert and GetCRL, whose
  // answers are in memory). The hand-off (two thread wake-ups) costs more CPU than
  // such an answer. Only for requests the handler answers in microseconds, without
  // I/O, a private-key operation or a lock that is held for long: while the handler
  // runs, that network thread serves no other connection. Checked before is_heavy,
  // with the same rules (fast, no blocking, no throwing). Empty (the default): none.
  RequestPredicate is_inline;
  // Answers ready in memory for requests is_inline does not pick (for scepterd: OCSP
  // responses already signed), given on the network thread: a Response is sent as is, a
  // ReadyAnswer::soon runs later on that thread (see ReadyAnswer), nothing sends the
  // request on to the pools like any other. For handlers that only know whether they
  // have the answer once they have read the request. Called for every such request,
  // before is_heavy, with is_inline's rules (fast, no blocking, no throwing). Empty (the
  // default): every request goes on.
  std::function<ReadyAnswer(const Request&)> answer_ready;
  // Heavy requests that may wait for a worker when every worker is busy (default 256,
  // about 0.4 s of enrolments at the benchmark's rate; 0: none wait). Beyond it: 503
  // with "Retry-After: 1" at once, without calling the handler.
  std::size_t max_queued_heavy = 256;
  // A heavy request that waited longer than this for a worker is answered 503 with
  // "Retry-After: 1" without calling the handler (default 10 s: SCEP clients time out
  // or retry by then, and the work would be wasted; 0: no deadline).
  std::chrono::milliseconds queue_deadline{10'000};

  // --- Event streams (Response::stream) ---

  // Streams open at once on this server (default 64). Beyond it: 503 with
  // "Retry-After: 1", and the connection closes.
  std::size_t max_event_streams = 64;
  // Bytes a stream may hold queued and not yet written (default 256 KiB). A push beyond
  // it ends the stream and the connection closes: a client that reads too slowly is cut
  // off rather than buffered without end.
  std::size_t max_event_stream_queue_bytes = 256 << 10;
  // A stream is exempt from the read and idle timeouts; instead the comment ":\n\n" is
  // sent this often (after EventStream::keep_going agrees), so a dead peer is noticed by
  // the write timeout and proxies keep the connection.
  std::chrono::milliseconds event_stream_heartbeat{15'000};
};

// Counters since create(), for tests and later for /metrics.
struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;  // over max_connections
  std::uint64_t active_connections = 0;
  std::uint64_t requests = 0;                // requests passed to the handler
  std::uint64_t handler_failures = 0;        // the handler threw: answered 500
  std::uint64_t bad_requests = 0;            // answered 400/413/431 by the server itself
  std::uint64_t timeouts = 0;                // connections closed by a read/idle/write timeout
  std::uint64_t bytes_drained = 0;           // read and dropped after an answer of the server's own
                                             // (400/413/431/429): at most 4 MiB per connection
  std::uint64_t tls_handshake_failures = 0;  // closed in the TLS handshake (not timeouts)
  // Refusals, each answered with Retry-After and not passed to the handler.
  std::uint64_t connections_rejected_per_address = 0;  // over max_connections_per_address
  std::uint64_t requests_rate_limited = 0;             // 429: over the per-address rate
  std::uint64_t heavy_rejected_queue_full = 0;         // 503: over max_queued_heavy
  std::uint64_t heavy_rejected_deadline = 0;           // 503: waited over queue_deadline
  // Gauges.
  std::uint64_t heavy_queued = 0;       // heavy requests waiting for a worker now
  std::uint64_t tracked_addresses = 0;  // entries of the per-address table
  std::uint64_t address_evictions = 0;  // addresses forgotten to respect its bound
  // Event streams.
  std::uint64_t event_streams = 0;             // open now
  std::uint64_t event_streams_rejected = 0;    // 503: over max_event_streams
  std::uint64_t event_streams_overflowed = 0;  // cut off: over max_event_stream_queue_bytes
};

// The heavy-request threads a server starts when ServerOptions::worker_threads is 0:
// max(16, 8 x cores).
unsigned default_worker_threads();

// The server. create() binds and listens; start() serves; stop() (or destruction) ends
// it gracefully and releases the port at once, so a new server may bind it right after.
// A stopped server cannot be started again: create a new one. Methods are thread-safe,
// but stop() must not be called from inside a Handler.
class HttpServer {
 public:
  // Binds and listens (clients queue in the kernel until start()). Fails with
  // kInvalidArgument for an unparsable bind address or an empty handler, and with
  // kUnavailable when the address cannot be bound
  // ("cannot bind 127.0.0.1:80: Address already in use").
  static Result<std::unique_ptr<HttpServer>> create(const ServerOptions& options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the threads and begins accepting. Fails with kUnavailable once stopped.
  Status start();
  // Stops accepting, closes idle connections, lets requests in flight finish (up to
  // options.stop_timeout), then closes everything. Idempotent. A handler still running
  // after the timeout finishes in the background; its answer is discarded.
  void stop();

  // HTTPS: the identity for connections accepted from now on (a renewed certificate).
  // Open connections keep the one they started with until they close. Fails with
  // kInvalidArgument when `context` is null or the server was created without
  // ServerOptions::tls (a plain HTTP port does not turn into HTTPS).
  Status set_tls(std::shared_ptr<const pki::TlsServerContext> context);

  std::uint16_t port() const;          // the bound port (useful with port 0)
  const std::string& address() const;  // the bind address as given
  ServerStats stats() const;

  struct Core;  // the implementation (server_core.h); named here for connection.h

 private:
  explicit HttpServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace scepter::http
