// ACME load generator: whole http-01 orders per second against a running ACME server
// (bench/run_acme_bench.sh runs it against scepterd and Pebble in turn).
//
//   acme_load --directory URL --cacert FILE [--concurrency 8] [--seconds 10]
//             --http-port P [--domain-suffix example.test] [--server-pid PID]
//             [--csr-keys 16] [--max-poll-ms 50]
//
// Before the clock starts: each of the C workers makes an ACME account (EC P-256 key,
// newAccount with termsOfServiceAgreed) over its own libcurl handle (HTTPS keep-alive,
// the server's certificate checked against --cacert). Then, until S seconds have
// passed, each worker runs orders one after the other:
//   newOrder for one name wN-<counter>.<suffix>; POST-as-GET its authorization; the key
//   authorization of the http-01 challenge put where this program's HTTP server on
//   127.0.0.1:P answers GET /.well-known/acme-challenge/TOKEN; POST {} to the challenge;
//   poll the authorization until valid; finalize with a CSR for the name; poll the order
//   until valid; POST-as-GET the certificate.
// Polls honour Retry-After but wait at most --max-poll-ms (default 50 ms; and at least
// 5 ms, or that maximum if smaller): the benchmark measures the server, not the
// politeness a real client owes it. An order in flight
// when the time is up is finished and counted; the rate is over the whole run.
// The CSR keys are a pool of pre-made EC P-256 keys (--csr-keys per worker, used in
// turn), so the client's own CPU per order is one CSR signature and the JWS signatures.
// A badNonce answer is retried with the Replay-Nonce it carries (up to 5 times).
// With --server-pid, the CPU time (utime + stime of /proc/PID/stat) the server used
// during the run, per completed order.
// Prints a report and one "RESULT key=value ..." line. Exit status 0 when the run
// completed (even with failed orders), 1 on a setup error (no directory, no account).

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "acme/jws_testing.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/name.h"
#include "pki/ptr.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "acme_load: %s\n", why.c_str());
  std::exit(1);
}

struct Args {
  std::string directory;
  std::string cacert;
  int concurrency = 8;
  double seconds = 10;
  int http_port = 0;
  std::string suffix = "example.test";
  int server_pid = 0;
  int csr_keys = 16;
  int max_poll_ms = 50;
};

constexpr auto kPollTimeout = std::chrono::seconds(60);
constexpr int kNonceRetries = 5;
constexpr auto kMinPoll = std::chrono::milliseconds(5);

// --- The http-01 responder -------------------------------------------------------------

// Token -> key authorization, shared by the workers and the responder.
class ChallengeMap {
 public:
  void put(const std::string& token, const std::string& key_auth) {
    std::lock_guard<std::mutex> lock(mu_);
    map_[token] = key_auth;
  }
  void erase(const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    map_.erase(token);
  }
  std::optional<std::string> get(const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(token);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::string> map_;
};

ChallengeMap g_challenges;
std::atomic<long> g_served{0}, g_not_found{0};

// One connection of a validator: reads requests and answers each, keep-alive unless
// the validator asks to close. Only GET of /.well-known/acme-challenge/TOKEN is known.
void serve_connection(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buf;
  for (;;) {
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      char tmp[4096];
      const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0 || buf.size() > 65536) {
        ::close(fd);
        return;
      }
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const bool close_after = lower.find("\r\nconnection: close") != std::string::npos ||
                             lower.find(" http/1.0\r\n") != std::string::npos;
    static const std::string kPrefix = "GET /.well-known/acme-challenge/";
    std::optional<std::string> answer;
    if (head.compare(0, kPrefix.size(), kPrefix) == 0) {
      const std::size_t sp = head.find(' ', kPrefix.size());
      if (sp != std::string::npos)
        answer = g_challenges.get(head.substr(kPrefix.size(), sp - kPrefix.size()));
    }
    std::string reply;
    if (answer) {
      ++g_served;
      reply = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
              std::to_string(answer->size()) + "\r\n" +
              (close_after ? "Connection: close\r\n" : "") + "\r\n" + *answer;
    } else {
      ++g_not_found;
      reply = std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n") +
              (close_after ? "Connection: close\r\n" : "") + "\r\n";
    }
    std::string_view d = reply;
    while (!d.empty()) {
      const ssize_t n = ::send(fd, d.data(), d.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      d.remove_prefix(static_cast<std::size_t>(n));
    }
    if (close_after || !d.empty()) {
      ::close(fd);
      return;
    }
  }
}

// Listens on 127.0.0.1:port; a thread per connection (validators open few).
void start_responder(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd, 256) != 0) {
    die("cannot listen on 127.0.0.1:" + std::to_string(port));
  }
  std::thread([fd] {
    for (;;) {
      const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::thread(serve_connection, c).detach();
    }
  }).detach();
}

// --- The ACME client ---------------------------------------------------------------------

struct Reply {
  long status = 0;  // 0: transport failure (curl_error says why)
  std::string body;
  std::string nonce;               // Replay-Nonce
  std::string location;            // Location
  std::optional<int> retry_after;  // Retry-After in seconds (the delta form only)
  std::string curl_error;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* user) {
  static_cast<Reply*>(user)->body.append(p, size * n);
  return size * n;
}

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<Reply*>(user);
  const std::string line(p, size * n);
  const std::size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const std::string value = trim(line.substr(colon + 1));
    if (name == "replay-nonce") r->nonce = value;
    if (name == "location") r->location = value;
    if (name == "retry-after" && !value.empty() &&
        value.find_first_not_of("0123456789") == std::string::npos) {
      r->retry_after = std::atoi(value.c_str());
    }
  }
  return size * n;
}

// Why an order failed: the step and what went wrong ("finalize: HTTP 403
// urn:ietf:params:acme:error:unauthorized", "authz: invalid", ...).
struct Failure {
  std::string kind;
  std::string detail;
};

class Client {
 public:
  Client(const Args& a, const json& directory, int worker)
      : a_(a), dir_(directory), worker_(worker) {
    curl_ = curl_easy_init();
    if (curl_ == nullptr) die("curl_easy_init");
    headers_ = curl_slist_append(nullptr, "Content-Type: application/jose+json");
    headers_ = curl_slist_append(headers_, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_CAINFO, a_.cacert.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "acme_load");
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    for (int i = 0; i < a_.csr_keys; ++i) {
      auto k = scepter::pki::Key::generate_ec(256);
      if (!k.has_value()) die("cannot make a key");
      csr_keys_.push_back(std::move(*k));
    }
    auto k = scepter::pki::Key::generate_ec(256);
    if (!k.has_value()) die("cannot make a key");
    account_key_.emplace(std::move(*k));
    // RFC 7638: the required members, sorted, without whitespace (json::dump of an
    // object gives exactly that), hashed with SHA-256.
    thumbprint_ = scepter::pki::base64url_encode(scepter::pki::digest(
        scepter::pki::Hash::kSha256, scepter::acme::test::jwk_of(*account_key_).dump()));
  }
  ~Client() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // newAccount; a setup failure is fatal.
  void make_account() {
    Reply r;
    if (auto f = post(dir_.value("newAccount", ""), R"({"termsOfServiceAgreed":true})", r, true)) {
      die("newAccount: " + f->kind + ": " + f->detail);
    }
    if (r.location.empty()) die("newAccount: no Location");
    kid_ = r.location;
  }

  // One whole order; nullopt when a certificate was downloaded.
  std::optional<Failure> order(long counter) {
    const std::string name =
        "w" + std::to_string(worker_) + "-" + std::to_string(counter) + "." + a_.suffix;
    Reply r;
    const json new_order = {{"identifiers", json::array({{{"type", "dns"}, {"value", name}}})}};
    if (auto f = post(dir_.value("newOrder", ""), new_order.dump(), r)) return step("newOrder", *f);
    const std::string order_url = r.location;
    json order;
    if (!parse(r.body, order) || order_url.empty() || !order["authorizations"].is_array() ||
        order["authorizations"].size() != 1 || !order["finalize"].is_string()) {
      return Failure{"newOrder: unexpected answer", r.body.substr(0, 200)};
    }
    const std::string authz_url = order["authorizations"][0];
    const std::string finalize_url = order["finalize"];

    if (auto f = post(authz_url, "", r)) return step("authz", *f);
    json authz;
    if (!parse(r.body, authz)) return Failure{"authz: unexpected answer", r.body.substr(0, 200)};
    if (authz.value("status", "") != "valid") {
      std::string token, challenge_url;
      for (const auto& c : authz["challenges"]) {
        if (c.value("type", "") == "http-01") {
          token = c.value("token", "");
          challenge_url = c.value("url", "");
        }
      }
      if (token.empty() || challenge_url.empty()) {
        return Failure{"authz: no http-01 challenge", r.body.substr(0, 200)};
      }
      g_challenges.put(token, token + "." + thumbprint_);  // RFC 8555 8.1
      auto f = post(challenge_url, "{}", r);
      if (!f) f = poll(authz_url, "authz", "pending", r);
      g_challenges.erase(token);
      if (f) return step("challenge", *f);
    }

    const std::string csr = make_csr(name);
    if (auto f = post(finalize_url, json{{"csr", csr}}.dump(), r)) return step("finalize", *f);
    if (!parse(r.body, order)) return Failure{"finalize: unexpected answer", r.body.substr(0, 200)};
    if (order.value("status", "") != "valid") {
      if (auto f = poll(order_url, "order", "processing", r)) return step("order", *f);
      if (!parse(r.body, order)) return Failure{"order: unexpected answer", r.body.substr(0, 200)};
    }
    const std::string cert_url = order.value("certificate", "");
    if (cert_url.empty()) return Failure{"order: no certificate URL", r.body.substr(0, 200)};
    if (auto f = post(cert_url, "", r)) return step("certificate", *f);
    if (r.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Failure{"certificate: not PEM", r.body.substr(0, 200)};
    }
    return std::nullopt;
  }

  long polls() const { return polls_; }
  long bad_nonces() const { return bad_nonces_; }
  long requests() const { return requests_; }

 private:
  static std::optional<Failure> step(const char* what, Failure f) {
    f.kind = std::string(what) + ": " + f.kind;
    return f;
  }
  static bool parse(const std::string& body, json& out) {
    out = json::parse(body, nullptr, false);
    return out.is_object();
  }

  Reply exchange(const std::string& url, const std::string* body, bool head = false) {
    Reply r;
    ++requests_;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r);
    if (body != nullptr) {
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 0L);
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    } else {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(curl_, CURLOPT_NOBODY, head ? 1L : 0L);
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    }
    const CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      r.curl_error = curl_easy_strerror(rc);
      return r;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    if (!r.nonce.empty()) nonce_ = r.nonce;
    return r;
  }

  // A signed POST of `payload` ("" for POST-as-GET) to `url`; nullopt on 2xx.
  std::optional<Failure> post(const std::string& url, const std::string& payload, Reply& r,
                              bool with_jwk = false) {
    for (int attempt = 0; attempt <= kNonceRetries; ++attempt) {
      if (nonce_.empty()) {
        const Reply n = exchange(dir_.value("newNonce", ""), nullptr, true);
        if (n.status == 0) return Failure{"transport", n.curl_error};
        if (nonce_.empty()) return Failure{"newNonce: no Replay-Nonce", ""};
      }
      const std::string nonce = std::exchange(nonce_, "");
      const std::string body = scepter::acme::test::request_body(*account_key_, url, nonce,
                                                                 with_jwk ? "" : kid_, payload);
      r = exchange(url, &body);
      if (r.status == 0) return Failure{"transport", r.curl_error};
      if (r.status >= 200 && r.status < 300) return std::nullopt;
      json problem = json::parse(r.body, nullptr, false);
      const std::string type = problem.is_object() ? problem.value("type", "") : "";
      if (type == "urn:ietf:params:acme:error:badNonce" && attempt < kNonceRetries) {
        ++bad_nonces_;
        continue;  // nonce_ is the error's Replay-Nonce (or empty: a newNonce first)
      }
      return Failure{"HTTP " + std::to_string(r.status) + (type.empty() ? "" : " " + type),
                     problem.is_object() ? problem.value("detail", "") : r.body.substr(0, 200)};
    }
    return Failure{"badNonce " + std::to_string(kNonceRetries + 1) + " times", ""};
  }

  // POST-as-GET `url` while its status is `waiting` (or "pending"/"processing"), until
  // "valid"; r holds the last answer.
  std::optional<Failure> poll(const std::string& url, const char* what, const char* waiting,
                              Reply& r) {
    const auto deadline = Clock::now() + kPollTimeout;
    for (;;) {
      if (auto f = post(url, "", r)) return f;
      json o;
      if (!parse(r.body, o)) return Failure{"unexpected answer", r.body.substr(0, 200)};
      const std::string status = o.value("status", "");
      if (status == "valid") return std::nullopt;
      if (status != waiting && status != "pending" && status != "processing") {
        std::string detail = o.dump();
        return Failure{std::string(what) + " " + status, detail.substr(0, 300)};
      }
      if (Clock::now() > deadline) return Failure{"poll timeout", ""};
      ++polls_;
      const std::chrono::milliseconds most(a_.max_poll_ms);
      const auto wait = r.retry_after ? std::chrono::milliseconds(*r.retry_after * 1000) : most;
      std::this_thread::sleep_for(
          std::clamp<std::chrono::milliseconds>(wait, std::min(most, kMinPoll), most));
    }
  }

  // base64url of a DER CSR for `name` (CN and one dNSName), signed by the next key of
  // the pool.
  std::string make_csr(const std::string& name) {
    const scepter::pki::Key& key = csr_keys_[next_key_++ % csr_keys_.size()];
    auto subject = scepter::pki::parse_dn("CN=" + name);
    if (!subject.has_value()) die("cannot make a subject for " + name);
    const std::string san_text = "DNS:" + name;
    scepter::pki::Ptr<X509_EXTENSION> san(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san_text.c_str()));
    if (!san) die("cannot make a subjectAltName");
    auto csr =
        scepter::pki::make_csr({.subject = subject->get(), .key = key, .extensions = {san.get()}});
    if (!csr.has_value()) die("cannot make a CSR: " + csr.error().message());
    return scepter::pki::base64url_encode(csr->der());
  }

  const Args& a_;
  const json& dir_;
  const int worker_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::optional<scepter::pki::Key> account_key_;
  std::string thumbprint_;
  std::string kid_;
  std::string nonce_;
  std::vector<scepter::pki::Key> csr_keys_;
  std::size_t next_key_ = 0;
  long polls_ = 0, bad_nonces_ = 0, requests_ = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100 * v.size()))];
}

// utime + stime of a process in seconds; nullopt when it cannot be read.
std::optional<double> process_cpu(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  // After the name: state (3), ppid ... utime is field 14, stime 15.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Args a;
  CLI::App app("ACME http-01 order load generator");
  app.add_option("--directory", a.directory, "the ACME directory URL")->required();
  app.add_option("--cacert", a.cacert,
                 "CA certificate (PEM) the server's TLS certificate chains to")
      ->required();
  app.add_option("--concurrency", a.concurrency, "workers, one account and connection each");
  app.add_option("--seconds", a.seconds, "how long orders are started");
  app.add_option("--http-port", a.http_port, "port of the http-01 responder on 127.0.0.1")
      ->required();
  app.add_option("--domain-suffix", a.suffix, "names are wN-<counter>.<suffix>");
  app.add_option("--server-pid", a.server_pid, "the server's process, for its CPU time");
  app.add_option("--csr-keys", a.csr_keys, "pre-made CSR keys per worker, used in turn");
  app.add_option("--max-poll-ms", a.max_poll_ms, "longest wait between polls (Retry-After capped)");
  CLI11_PARSE(app, argc, argv);
  if (a.concurrency < 1 || a.seconds <= 0 || a.csr_keys < 1 || a.max_poll_ms < 0)
    die("bad --concurrency/--seconds/--csr-keys");
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init");
  start_responder(a.http_port);

  json directory;
  {
    CURL* c = curl_easy_init();
    Reply r;
    curl_easy_setopt(c, CURLOPT_URL, a.directory.c_str());
    curl_easy_setopt(c, CURLOPT_CAINFO, a.cacert.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) die("directory: " + std::string(curl_easy_strerror(rc)));
    directory = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !directory.is_object() || !directory["newNonce"].is_string() ||
        !directory["newAccount"].is_string() || !directory["newOrder"].is_string()) {
      die("directory: HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200));
    }
  }

  std::printf("making %d accounts and %d CSR keys each (EC P-256)\n", a.concurrency, a.csr_keys);
  std::vector<std::unique_ptr<Client>> clients;
  for (int w = 0; w < a.concurrency; ++w) {
    clients.push_back(std::make_unique<Client>(a, directory, w));
    clients.back()->make_account();
  }

  const std::size_t c = static_cast<std::size_t>(a.concurrency);
  std::vector<std::vector<double>> lat(c);
  std::vector<std::map<std::string, long>> errors(c);
  std::vector<std::string> first_error(c);
  double cpu_before = -1;
  if (a.server_pid > 0) {
    auto cpu = process_cpu(a.server_pid);
    if (!cpu) die("cannot read /proc/" + std::to_string(a.server_pid) + "/stat");
    cpu_before = *cpu;
  }
  const double self_before = self_cpu();
  const auto start = Clock::now();
  const auto stop =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < c; ++w) {
    threads.emplace_back([&, w] {
      for (long n = 0; Clock::now() < stop; ++n) {
        const auto t0 = Clock::now();
        if (auto f = clients[w]->order(n)) {
          if (errors[w][f->kind]++ == 0 && first_error[w].empty()) {
            first_error[w] = f->kind + ": " + f->detail;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        lat[w].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_after = a.server_pid > 0 ? process_cpu(a.server_pid).value_or(-1) : -1;
  const double self_used = self_cpu() - self_before;

  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::map<std::string, long> all_errors;
  long failed = 0, polls = 0, bad_nonces = 0, requests = 0;
  for (std::size_t w = 0; w < c; ++w) {
    for (const auto& [k, n] : errors[w]) {
      all_errors[k] += n;
      failed += n;
    }
    polls += clients[w]->polls();
    bad_nonces += clients[w]->bad_nonces();
    requests += clients[w]->requests();
  }
  const long orders = static_cast<long>(all.size());
  const double rate = static_cast<double>(orders) / elapsed;
  const double per = orders > 0 ? 1.0 / static_cast<double>(orders) : 0;
  const double server_s = cpu_before >= 0 && cpu_after >= 0 ? cpu_after - cpu_before : -1;
  const double server_ms = server_s >= 0 ? server_s * 1000 * per : -1;
  std::printf(
      "orders: c=%d http-01, %.2f s: %ld completed, %ld failed, %.1f/s; order latency p50 %.1f "
      "ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
      a.concurrency, elapsed, orders, failed, rate, percentile(all, 50), percentile(all, 90),
      percentile(all, 99), percentile(all, 100));
  std::printf(
      "  per order: %.1f requests, %.2f polls, %.2f badNonce retries, %.2f validation GETs "
      "answered (%ld not found in all); client CPU %.2f ms\n",
      static_cast<double>(requests) * per, static_cast<double>(polls) * per,
      static_cast<double>(bad_nonces) * per, static_cast<double>(g_served.load()) * per,
      g_not_found.load(), self_used * 1000 * per);
  if (server_ms >= 0) {
    std::printf("  server (pid %d) CPU: %.2f s in all, %.2f ms per order\n", a.server_pid, server_s,
                server_ms);
  }
  for (const auto& [k, n] : all_errors) std::printf("  error %ld x %s\n", n, k.c_str());
  for (const auto& e : first_error) {
    if (!e.empty()) {
      std::printf("  first error: %s\n", e.c_str());
      break;
    }
  }
  std::printf(
      "RESULT mode=acme c=%d max_poll_ms=%d seconds=%.3f orders=%ld failed=%ld rate=%.2f "
      "p50_ms=%.1f "
      "p99_ms=%.1f polls_per_order=%.2f bad_nonces=%ld server_cpu_ms_per_order=%.2f "
      "client_cpu_ms_per_order=%.2f\n",
      a.concurrency, a.max_poll_ms, elapsed, orders, failed, rate, percentile(all, 50),
      percentile(all, 99), static_cast<double>(polls) * per, bad_nonces, server_ms,
      self_used * 1000 * per);
  curl_global_cleanup();
  std::_Exit(0);  // the responder's threads are detached and still blocked in accept/recv
}
