// SCEP load generator: enrolments per second of a running SCEP server (scepterd, or any
// RFC 8894 server such as micromdm's scepserver), and requests per second of its
// GetCACaps / GetCACert. Run by bench/run_scep_bench.sh.
//
//   scep_load --port P [--host 127.0.0.1] [--path /cgi-bin/pkiclient.exe] [--label ca]
//             [--mode enroll|otp|getcacaps|getcacert|getcrl] [--n 2000] [--c 16] [--get]
//             [--keys FILE] [--tag TEXT] [--challenge PW] [--threads T] [--seconds S]
//             [--control-socket PATH] [--save-dir DIR] [--retry [--retry-seconds 60]]
//
// enroll     Before the clock starts: fetches the CA certificate (GetCACert), takes N
//            distinct RSA-2048 keys (read from --keys FILE when it holds enough,
//            otherwise generated on T threads and appended to it), and builds N PKCSReq
//            messages: PKCS#10 with the challenge password, signed by a throw-away
//            self-signed certificate with SHA-256, enveloped to the CA with AES-128-CBC.
//            When GetCACert names an RA (RFC 8894 §3.5.1: a certificate of the
//            application/x-x509-ca-ra-cert bundle that is not a CA's; with two, the one
//            with keyEncipherment encrypts and the one with digitalSignature signs), the
//            envelopes are for the RA's encryption certificate and the CertReps must be
//            signed by its signing certificate; issued certificates still chain to the CA.
//            Each message gets its own transactionID: MD5 over the public key and the
//            --tag, so that keys may be reused by later runs against the same CA.
//            --distinct-keys K: the N enrolments take K keys in turn (a big load without
//            making N keys); a key's later uses add "/ROUND" to what the MD5 covers.
//            Then C threads, each on one keep-alive HTTP/1.1 connection, send them (POST
//            with application/x-pki-message, or GET with --get) until all N are answered.
//            After the clock stops, every CertRep is checked: signature by the CA (or RA),
//            transactionID and recipientNonce, envelope opened with the requester's key
//            (DES replies need OpenSSL's legacy provider), issued certificate for the
//            requester's key, chain to the CA (X509_verify_cert), and duplicate serials.
//            --save-dir DIR: each CertRep is checked as it arrives instead (inside the
//            clock), and each certificate that passes is written at once, atomically, to
//            DIR/<transactionID>.der, so a test can watch them come in.
//            --retry: a message that gets no answer (connection refused or reset: the
//            server is being restarted), HTTP 5xx or 429 is sent again, byte for byte,
//            on a new connection after a short back-off (25 ms doubling to 500 ms), until
//            --retry-seconds after its first sending. SCEP makes a resend safe: the same
//            transactionID gets the same answer. GetCACert at the start is retried too.
// otp        scepterd with manual grant and one-time passwords: for each of N requests,
//            `crypto pki server <label> password generate` over the control socket, then
//            a PKCSReq carrying that password (built inside the clock, since the password
//            is inside the signed CSR), one at a time: only one password is live at once.
// getcacaps, getcacert, getcrl
//            C keep-alive connections send the GET for S seconds; requests per second.
//            getcrl sends the plain operation=GetCRL&message=LABEL of HTTP CDPs (the
//            whole CRL in each answer).
//
// Prints a report, then one "RESULT key=value ..." line for scripts (with --retry it ends
// in retries= retried= gave_up=, with --save-dir in saved= save_errors=). Exit status 0
// when the run completed (whatever the servers answered), 1 on a setup error.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <CLI/CLI.hpp>

#include "cert_rep_check.h"
#include "common/fs.h"
#include "http_client.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/name.h"
#include "scep/client.h"
#include "scep/message.h"
#include "scep/request.h"
#include "scep/upstream_client.h"
#include "shell/control_client.h"

namespace {

using Clock = std::chrono::steady_clock;
using scepter::Result;
using scepter::bench::CertRepCheck;
using scepter::bench::HttpConn;
using scepter::bench::HttpReply;
using scepter::pki::Certificate;
using scepter::pki::Key;
using scepter::pki::Ptr;
namespace scep = scepter::scep;

// The certificates GetCACert named: the CA and its chain, and the RA in front of it if
// any (recipient() is encrypted to, reply_signer() signs the CertReps).
using ServerCerts = scepter::ca::UpstreamCertificates;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "scep_load: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T check(Result<T> r, const std::string& what) {
  if (!r.has_value()) die(what + ": " + r.error().to_string());
  return std::move(*r);
}

// Where the machine's CPU went while the clock ran: this process (the load generator),
// and all cores busy or idle (/proc/stat). The server's share is what remains of busy.
// Says whether a run was limited by the machine, and how much of it the client took.
class CpuWindow {
 public:
  CpuWindow() : self_(self_seconds()), machine_(machine_ticks()) {}

  // " client_cpu_ms=.. machine_busy_pct=..", per operation over `ops`.
  std::string summary(std::size_t ops) const {
    const double self = self_seconds() - self_;
    const auto [busy, idle] = machine_ticks();
    const double b = static_cast<double>(busy - machine_.first);
    const double i = static_cast<double>(idle - machine_.second);
    char out[96];
    std::snprintf(out, sizeof out, " client_cpu_ms=%.3f machine_busy_pct=%.1f",
                  ops == 0 ? 0.0 : self * 1e3 / static_cast<double>(ops),
                  b + i > 0 ? 100.0 * b / (b + i) : 0.0);
    return out;
  }

 private:
  static double self_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto sec = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
  }
  // {busy, idle} clock ticks of all cores since boot; {0, 0} when unreadable.
  static std::pair<unsigned long long, unsigned long long> machine_ticks() {
    unsigned long long v[8] = {};
    std::FILE* f = std::fopen("/proc/stat", "r");
    if (f == nullptr) return {0, 0};
    const int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                                &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    std::fclose(f);
    if (got != 8) return {0, 0};
    // user nice system idle iowait irq softirq steal
    return {v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[3] + v[4]};
  }

  double self_;
  std::pair<unsigned long long, unsigned long long> machine_;
};

struct Args {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/cgi-bin/pkiclient.exe";
  std::string label = "ca";
  std::string mode = "enroll";
  int n = 2000;
  int c = 16;
  int distinct_keys = 0;  // 0: one key per enrolment
  bool get = false;
  std::string keys_file;
  std::string tag;
  std::string challenge = "bench-challenge";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int seconds = 5;
  std::string control_socket;
  std::string save_dir;
  bool retry = false;
  int retry_seconds = 60;
  std::vector<std::string> ocsp_requests;  // DER files
  std::string ocsp_path = "/ocsp";
};

Args parse_args(int argc, char** argv) {
  Args a;
  CLI::App app{"scep_load: SCEP enrolment and GetCACaps/GetCACert load"};
  app.add_option("--host", a.host, "Server address (numeric IPv4)");
  app.add_option("--port", a.port, "Server port")->required();
  app.add_option("--path", a.path, "Path of the SCEP CGI");
  app.add_option("--label", a.label, "message= of GetCACert and GetCACaps; the CA label");
  app.add_option("--mode", a.mode, "enroll, otp, getcacaps, getcacert, getcrl or ocsp");
  app.add_option("--n", a.n, "Enrolments");
  app.add_option("--c", a.c, "Concurrent keep-alive connections");
  app.add_flag("--get", a.get, "PKIOperation with GET instead of POST");
  app.add_option("--keys", a.keys_file, "PEM file of requester keys, read and extended");
  app.add_option("--distinct-keys", a.distinct_keys,
                 "Keys the enrolments take in turn (default: one each)");
  app.add_option("--tag", a.tag, "Makes this run's transactionIDs and subjects unique");
  app.add_option("--challenge", a.challenge, "challengePassword of the requests");
  app.add_option("--threads", a.threads, "Threads for key generation, preparation, checks");
  app.add_option("--seconds", a.seconds, "Length of a getcacaps/getcacert/getcrl run");
  app.add_option("--control-socket", a.control_socket, "scepterd's control socket (otp)");
  app.add_option("--save-dir", a.save_dir,
                 "enroll: write each issued certificate to DIR/<transactionID>.der");
  app.add_flag("--retry", a.retry,
               "enroll: resend a message on no answer, HTTP 5xx or 429 (server restarts)");
  app.add_option("--retry-seconds", a.retry_seconds, "How long one message is resent");
  app.add_option("--ocsp-request", a.ocsp_requests,
                 "ocsp: a DER OCSPRequest file to POST (repeatable; connections take them in "
                 "turn)");
  app.add_option("--ocsp-path", a.ocsp_path, "ocsp: where to POST them (default /ocsp)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (a.port <= 0 || a.n <= 0 || a.c <= 0 || a.threads <= 0 || a.seconds <= 0 ||
      a.retry_seconds <= 0) {
    die("--port, --n, --c, --threads, --seconds and --retry-seconds must be positive");
  }
  if (a.distinct_keys < 0 || (a.distinct_keys > 0 && a.mode != "enroll")) {
    die("--distinct-keys takes a positive number, with --mode enroll");
  }
  if (a.tag.empty()) a.tag = std::to_string(std::time(nullptr));
  return a;
}

// Runs fn(i) for i in [0, n) on `threads` threads.
void parallel_for(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min(threads, n); ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

std::string get_request(const Args& a, const std::string& query) {
  return "GET " + a.path + "?" + query + " HTTP/1.1\r\nHost: " + a.host + ":" +
         std::to_string(a.port) + "\r\nUser-Agent: scep_load\r\n\r\n";
}

std::string post_request(const Args& a, const std::string& body) {
  return "POST " + a.path + "?operation=PKIOperation HTTP/1.1\r\nHost: " + a.host + ":" +
         std::to_string(a.port) +
         "\r\nUser-Agent: scep_load\r\nContent-Type: application/x-pki-message\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

// ---- CA certificate and keys ----

// The server's certificates; nullopt with `why` set when the server did not answer 200.
std::optional<ServerCerts> try_fetch_ca(const Args& a, std::string& why) {
  HttpConn conn(a.host, a.port);
  auto caps = conn.exchange(get_request(a, "operation=GetCACaps&message=" + a.label));
  if (!caps || caps->status != 200) {
    why = "GetCACaps failed";
    return std::nullopt;
  }
  std::string caps_line = caps->body;
  std::replace(caps_line.begin(), caps_line.end(), '\n', ' ');
  std::printf("GetCACaps: %s\n", caps_line.c_str());
  auto r = conn.exchange(get_request(a, "operation=GetCACert&message=" + a.label));
  if (!r || r->status != 200) {
    why = "GetCACert failed";
    return std::nullopt;
  }
  // Anything but a bundle is taken as one DER certificate, whatever its parameters.
  const bool bundle = r->content_type.find("ca-ra-cert") != std::string::npos;
  auto certs = check(
      scep::read_ca_certificates(
          bundle ? "application/x-x509-ca-ra-cert" : "application/x-x509-ca-cert", r->body, a.host),
      "GetCACert answer");
  return check(scep::classify_ca_certificates(std::move(certs)), "GetCACert answer");
}

ServerCerts fetch_ca(const Args& a) {
  const auto deadline = Clock::now() + std::chrono::seconds(a.retry_seconds);
  std::string why;
  for (;;) {
    if (auto ca = try_fetch_ca(a, why)) return *ca;
    if (!a.retry || Clock::now() >= deadline) die(why);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::vector<Key> load_or_make_keys(const Args& a, int n) {
  std::vector<Key> keys;
  if (!a.keys_file.empty()) {
    Ptr<BIO> bio(BIO_new_file(a.keys_file.c_str(), "r"));
    while (bio && static_cast<int>(keys.size()) < n) {
      Ptr<EVP_PKEY> k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
      if (!k) break;
      keys.push_back(check(Key::from_evp(std::move(k)), "key file"));
    }
    ERR_clear_error();
  }
  const int have = static_cast<int>(keys.size());
  if (have >= n) {
    std::printf("keys: %d RSA-2048 keys read from %s\n", n, a.keys_file.c_str());
    return keys;
  }
  const auto start = Clock::now();
  std::vector<std::optional<Key>> fresh(static_cast<size_t>(n - have));
  parallel_for(n - have, a.threads, [&](int i) {
    fresh[static_cast<size_t>(i)] = check(Key::generate_rsa(2048), "RSA key generation");
  });
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("keys: %d read, %d RSA-2048 keys generated on %d threads in %.1f s\n", have, n - have,
              a.threads, s);
  if (!a.keys_file.empty()) {
    Ptr<BIO> out(BIO_new_file(a.keys_file.c_str(), "a"));
    for (auto& k : fresh) {
      if (!out || PEM_write_bio_PrivateKey(out.get(), k->evp(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
        die("cannot write " + a.keys_file);
      }
    }
  }
  for (auto& k : fresh) keys.push_back(std::move(*k));
  return keys;
}

// ---- Enrolment ----

struct Enrolment {
  std::optional<Key> key;
  std::string transaction_id;
  std::string nonce;
  std::string http_request;  // the whole HTTP message
  // Filled by the load phase.
  std::optional<HttpReply> reply;
  double latency_ms = 0;
  std::optional<CertRepCheck> checked;  // with --save-dir, checked as it arrived
};

std::string hex_md5(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1) die("MD5");
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// Builds the PKCSReq for `e` (its key set): CSR with `challenge`, signer, envelope to
// `recipient` (the CA, or the RA's encryption certificate).
void prepare(const Args& a, const Certificate& recipient, int index, const std::string& challenge,
             Enrolment& e) {
  const std::string dn = "CN=scep-load-" + a.tag + "-" + std::to_string(index) + ",O=Scepter bench";
  auto subject = check(scepter::pki::parse_dn(dn), "subject");
  auto csr = check(scepter::pki::make_csr(
                       {.subject = subject.get(), .key = *e.key, .challenge_password = challenge}),
                   "make_csr");
  auto signer = check(scep::make_self_signed_signer(e.key->evp(), subject.get()), "signer");
  const int round = a.distinct_keys > 0 ? index / a.distinct_keys : 0;
  e.transaction_id =
      hex_md5(e.key->public_key_der() + a.tag + (round > 0 ? "/" + std::to_string(round) : ""));
  e.nonce.resize(scep::kNonceSize);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(e.nonce.data()), scep::kNonceSize) != 1) {
    die("RAND_bytes");
  }
  scep::PkiRequestParams p;
  p.type = scep::MessageType::kPkcsReq;
  p.payload = csr.der();
  p.signer_cert = signer.get();
  p.signer_key = e.key->evp();
  p.recipient_cert = recipient.x509();
  p.digest = scep::DigestAlg::kSha256;
  p.cipher = scep::CipherAlg::kAes128Cbc;
  p.transaction_id = e.transaction_id;
  p.sender_nonce = e.nonce;
  const std::string der = check(scep::encode_pki_request(p), "encode_pki_request");
  e.http_request =
      a.get ? get_request(a, "operation=PKIOperation&message=" + scep::encode_get_message(der))
            : post_request(a, der);
}

struct Verdicts {
  int success = 0, pending = 0, failure = 0;
  int http_errors = 0;  // no answer, or an HTTP status other than 200
  int bad_replies = 0;  // not a CertRep signed by the CA (or RA), wrong transactionID or nonce
  int unverified = 0;   // SUCCESS whose certificate does not chain to the CA
  int wrong_key = 0;    // SUCCESS whose certificate is not for the requester's key
  int duplicate_serials = 0;
  std::map<std::string, int> fail_infos;
  std::map<std::string, int> reply_ciphers;  // of the SUCCESS envelopes
  std::string first_problem;
};

// A store holding the issuing CA and its chain, shared by the threads that verify chains.
Ptr<X509_STORE> ca_store(const ServerCerts& certs) {
  Ptr<X509_STORE> store(X509_STORE_new());
  if (!store) die("X509_STORE");
  for (const Certificate& ca : certs.ca_chain) {
    if (X509_STORE_add_cert(store.get(), ca.x509()) != 1) die("X509_STORE");
  }
  return store;
}

// The CertRep must be signed by the RA's signing certificate, or by the CA without one.
CertRepCheck check_reply(const ServerCerts& certs, X509_STORE* store, const Enrolment& e) {
  return scepter::bench::check_cert_rep(certs.reply_signer(), store, e.reply, *e.key,
                                        e.transaction_id, e.nonce);
}

Verdicts verify_all(const Args& a, const ServerCerts& certs, std::vector<Enrolment>& all) {
  const Ptr<X509_STORE> store = ca_store(certs);
  std::mutex mu;
  Verdicts v;
  std::map<std::string, int> serials;
  parallel_for(static_cast<int>(all.size()), a.threads, [&](int i) {
    Enrolment& e = all[static_cast<size_t>(i)];
    const CertRepCheck c = e.checked ? *e.checked : check_reply(certs, store.get(), e);
    std::lock_guard<std::mutex> lock(mu);
    auto problem = [&](int& counter, const std::string& what) {
      ++counter;
      if (v.first_problem.empty()) v.first_problem = what;
    };
    switch (c.kind) {
      case CertRepCheck::Kind::kHttpError:
        return problem(v.http_errors, c.detail);
      case CertRepCheck::Kind::kBadReply:
        return problem(v.bad_replies, c.detail);
      case CertRepCheck::Kind::kWrongKey:
        return problem(v.wrong_key, c.detail);
      case CertRepCheck::Kind::kPending:
        ++v.pending;
        return;
      case CertRepCheck::Kind::kFailure:
        ++v.failure;
        ++v.fail_infos[c.detail];
        return;
      case CertRepCheck::Kind::kSuccess:
        ++v.success;
        ++serials[c.serial];
        ++v.reply_ciphers[c.cipher];
        if (!c.chain_ok) problem(v.unverified, "certificate does not verify: " + c.detail);
        return;
    }
  });
  for (const auto& [serial, count] : serials) {
    if (count > 1) v.duplicate_serials += count - 1;
  }
  return v;
}

// What --retry and --save-dir did, over all client threads.
struct ResendStats {
  std::atomic<int> resends{0};        // messages sent again
  std::atomic<int> resent{0};         // distinct messages sent more than once
  std::atomic<int> no_answer{0};      // resends after no answer (refused, reset, closed)
  std::atomic<int> server_errors{0};  // resends after HTTP 5xx or 429
  std::atomic<int> gave_up{0};        // messages still unanswered at --retry-seconds
  std::atomic<int> saved{0};          // certificates written to --save-dir
  std::atomic<int> save_errors{0};
};

bool retryable(const std::optional<HttpReply>& r) {
  return !r || r->status >= 500 || r->status == 429;
}

// Sends `request` on `conn`; with --retry, sends it again (the same bytes) while the
// answer is retryable(), backing off, until --retry-seconds after the first sending.
// HttpConn reconnects on its own after a failed exchange.
std::optional<HttpReply> send(const Args& a, HttpConn& conn, const std::string& request,
                              std::minstd_rand& rng, ResendStats& stats) {
  const auto deadline = Clock::now() + std::chrono::seconds(a.retry_seconds);
  auto backoff = std::chrono::milliseconds(25);
  for (int attempt = 0;; ++attempt) {
    auto r = conn.exchange(request);
    if (!a.retry || !retryable(r)) return r;
    if (Clock::now() + backoff >= deadline) {
      ++stats.gave_up;
      return r;
    }
    ++(r ? stats.server_errors : stats.no_answer);
    ++stats.resends;
    if (attempt == 0) ++stats.resent;
    // Jitter spreads the clients' reconnections over the back-off.
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
}

// Checks the answer of `e` now and writes its certificate to --save-dir when it passes.
void check_and_save(const Args& a, const ServerCerts& certs, X509_STORE* store, Enrolment& e,
                    ResendStats& stats) {
  e.checked = check_reply(certs, store, e);
  if (e.checked->kind != CertRepCheck::Kind::kSuccess || !e.checked->chain_ok) return;
  const auto st =
      scepter::fs::write_atomic(a.save_dir + "/" + e.transaction_id + ".der", e.checked->der);
  if (st.ok()) {
    ++stats.saved;
  } else if (stats.save_errors++ == 0) {
    std::fprintf(stderr, "scep_load: saving a certificate: %s\n", st.to_string().c_str());
  }
}

void report(const Args& a, const char* mode, std::vector<Enrolment>& all, double elapsed,
            const ServerCerts& certs, int reconnects, const std::string& cpu,
            const ResendStats* resends = nullptr) {
  std::vector<double> lat;
  for (const auto& e : all) lat.push_back(e.latency_ms);
  const double rate = static_cast<double>(all.size()) / elapsed;
  const double p50 = percentile(lat, 50), p99 = percentile(lat, 99);
  const double mx = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  std::printf(
      "load: %zu requests, c=%d, %s, %.2f s: %.1f enrolments/s, latency p50 %.1f ms, "
      "p99 %.1f ms, max %.1f ms, reconnects %d\n",
      all.size(), a.c, a.get ? "GET" : "POST", elapsed, rate, p50, p99, mx, reconnects);
  const auto start = Clock::now();
  Verdicts v = verify_all(a, certs, all);
  std::printf(
      "verified %zu replies in %.1f s: SUCCESS %d, PENDING %d, FAILURE %d, HTTP errors %d, "
      "bad replies %d, certificates not verifying %d, wrong key %d, duplicate serials %d\n",
      all.size(), std::chrono::duration<double>(Clock::now() - start).count(), v.success, v.pending,
      v.failure, v.http_errors, v.bad_replies, v.unverified, v.wrong_key, v.duplicate_serials);
  for (const auto& [info, count] : v.fail_infos)
    std::printf("  FAILURE %d x %s\n", count, info.c_str());
  for (const auto& [cipher, count] : v.reply_ciphers) {
    std::printf("  SUCCESS envelopes: %d x %s\n", count, cipher.c_str());
  }
  if (!v.first_problem.empty()) std::printf("  first problem: %s\n", v.first_problem.c_str());
  std::string extra;
  if (resends != nullptr && a.retry) {
    std::printf(
        "retries: %d resends of %d messages (%d after no answer, %d after HTTP 5xx/429), "
        "%d given up after %d s\n",
        resends->resends.load(), resends->resent.load(), resends->no_answer.load(),
        resends->server_errors.load(), resends->gave_up.load(), a.retry_seconds);
    extra += " retries=" + std::to_string(resends->resends) +
             " retried=" + std::to_string(resends->resent) +
             " gave_up=" + std::to_string(resends->gave_up);
  }
  if (resends != nullptr && !a.save_dir.empty()) {
    std::printf("saved %d certificates to %s, %d could not be written\n", resends->saved.load(),
                a.save_dir.c_str(), resends->save_errors.load());
    extra += " saved=" + std::to_string(resends->saved) +
             " save_errors=" + std::to_string(resends->save_errors);
  }
  std::printf(
      "RESULT mode=%s method=%s n=%zu c=%d seconds=%.3f rate=%.1f p50_ms=%.1f p99_ms=%.1f "
      "max_ms=%.1f success=%d pending=%d failure=%d http_errors=%d bad_replies=%d "
      "unverified=%d wrong_key=%d dup_serials=%d%s%s\n",
      mode, a.get ? "GET" : "POST", all.size(), a.c, elapsed, rate, p50, p99, mx, v.success,
      v.pending, v.failure, v.http_errors, v.bad_replies, v.unverified, v.wrong_key,
      v.duplicate_serials, cpu.c_str(), extra.c_str());
}

// Prints the CA and, when there is one, the RA.
void print_server_certs(const ServerCerts& certs) {
  const auto print = [](const char* role, const Certificate& c) {
    std::printf("%s: %s, serial %s\n", role, scepter::pki::format_dn_ios(c.subject()).c_str(),
                c.serial_hex().c_str());
  };
  print("CA", certs.issuing_ca());
  if (certs.ra_encrypter && certs.ra_signer && *certs.ra_encrypter == *certs.ra_signer) {
    print("RA (encrypts, signs)", *certs.ra_encrypter);
  } else {
    if (certs.ra_encrypter) print("RA (encrypts)", *certs.ra_encrypter);
    if (certs.ra_signer) print("RA (signs)", *certs.ra_signer);
  }
}

int run_enroll(const Args& a) {
  const ServerCerts certs = fetch_ca(a);
  print_server_certs(certs);
  const int distinct = a.distinct_keys > 0 ? std::min(a.distinct_keys, a.n) : a.n;
  std::vector<Key> keys = load_or_make_keys(a, distinct);
  std::vector<Enrolment> all(static_cast<size_t>(a.n));
  const auto prep_start = Clock::now();
  parallel_for(a.n, a.threads, [&](int i) {
    Enrolment& e = all[static_cast<size_t>(i)];
    e.key = keys[static_cast<size_t>(i % distinct)];
    prepare(a, certs.recipient(), i, a.challenge, e);
  });
  std::printf(
      "prepared %d signed and enveloped PKCSReq messages (AES-128-CBC, SHA-256) in %.1f s\n", a.n,
      std::chrono::duration<double>(Clock::now() - prep_start).count());
  std::fflush(stdout);

  if (!a.save_dir.empty()) {
    const auto st = scepter::fs::make_dirs(a.save_dir);
    if (!st.ok()) die("--save-dir: " + st.to_string());
  }
  const Ptr<X509_STORE> store = ca_store(certs);
  ResendStats stats;
  std::atomic<int> next{0}, reconnects{0};
  const CpuWindow cpu;
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < a.c; ++t) {
    clients.emplace_back([&, t] {
      HttpConn conn(a.host, a.port);
      std::minstd_rand rng(static_cast<unsigned>(t + 1));
      for (int i; (i = next++) < a.n;) {
        Enrolment& e = all[static_cast<size_t>(i)];
        const auto t0 = Clock::now();
        e.reply = send(a, conn, e.http_request, rng, stats);
        e.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!a.save_dir.empty()) check_and_save(a, certs, store.get(), e, stats);
      }
      reconnects += conn.reconnects();
    });
  }
  for (auto& t : clients) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string cpu_used = cpu.summary(all.size());
  report(a, "enroll", all, elapsed, certs, reconnects, cpu_used, &stats);
  return 0;
}

// One PKCSReq after another, each with a fresh one-time password from the control socket.
int run_otp(const Args& a) {
  if (a.control_socket.empty()) die("--mode otp needs --control-socket");
  const ServerCerts certs = fetch_ca(a);
  std::vector<Key> keys = load_or_make_keys(a, a.n);
  auto session = check(scepter::shell::open_session(a.control_socket), "control socket");
  const std::string command = "crypto pki server " + a.label + " password generate";
  std::vector<Enrolment> all(static_cast<size_t>(a.n));
  HttpConn conn(a.host, a.port);
  double otp_ms = 0;
  const CpuWindow cpu;
  const auto start = Clock::now();
  for (int i = 0; i < a.n; ++i) {
    Enrolment& e = all[static_cast<size_t>(i)];
    const auto t0 = Clock::now();
    auto answer = check(session.client->exec(command), "password generate");
    static constexpr std::string_view kMarker = "enrollment password: ";
    const size_t at = answer.output.find(kMarker);
    if (!answer.ok || at == std::string::npos) die("password generate said: " + answer.output);
    const size_t from = at + kMarker.size();
    const std::string password = answer.output.substr(from, answer.output.find('\n', from) - from);
    otp_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    e.key = keys[static_cast<size_t>(i)];
    prepare(a, certs.recipient(), i, password, e);
    e.reply = conn.exchange(e.http_request);
    e.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string cpu_used = cpu.summary(all.size());
  std::printf("one-time passwords: %.2f ms each on average (control socket, one fsync)\n",
              otp_ms / a.n);
  Args shown = a;
  shown.c = 1;
  report(shown, "otp", all, elapsed, certs, conn.reconnects(), cpu_used);
  return 0;
}

// Sends `requests` (each connection starting at its own one and taking them in turn) on
// a.c keep-alive connections for a.seconds; an answer counts as OK when `good` says so.
int run_requests(const Args& a, const std::string& operation,
                 const std::vector<std::string>& requests,
                 const std::function<bool(const HttpReply&)>& good) {
  {
    HttpConn probe(a.host, a.port);
    auto r = probe.exchange(requests.front());
    if (!r || r->status != 200 || !good(*r)) die(operation + " does not answer 200");
  }
  std::atomic<bool> done{false};
  std::atomic<long> ok{0}, bad{0};
  std::string first_bad;  // written by the thread that counts the first failure
  std::vector<std::vector<double>> lat(static_cast<size_t>(a.c));
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int t = 0; t < a.c; ++t) {
    clients.emplace_back([&, t] {
      HttpConn conn(a.host, a.port);
      auto& mine = lat[static_cast<size_t>(t)];
      size_t next = static_cast<size_t>(t);
      while (!done) {
        const auto t0 = Clock::now();
        auto r = conn.exchange(requests[next++ % requests.size()]);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (r && r->status == 200 && good(*r)) {
          ++ok;
        } else if (bad++ == 0) {
          first_bad =
              r ? "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 100) : "no answer";
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
  done = true;
  for (auto& t : clients) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  const double rate = static_cast<double>(ok + bad) / elapsed;
  std::printf(
      "%s: c=%d keep-alive, %.1f s: %ld OK, %ld failed, %.0f requests/s, p50 %.3f ms, "
      "p99 %.3f ms\n",
      operation.c_str(), a.c, elapsed, ok.load(), bad.load(), rate, percentile(all, 50),
      percentile(all, 99));
  if (bad > 0) std::printf("  first failure: %s\n", first_bad.c_str());
  std::printf(
      "RESULT mode=%s c=%d seconds=%.3f requests=%ld failed=%ld rate=%.0f p50_ms=%.3f "
      "p99_ms=%.3f max_ms=%.3f\n",
      operation.c_str(), a.c, elapsed, ok.load() + bad.load(), bad.load(), rate,
      percentile(all, 50), percentile(all, 99),
      all.empty() ? 0.0 : *std::max_element(all.begin(), all.end()));
  return 0;
}

int run_get(const Args& a, const std::string& operation) {
  return run_requests(a, operation,
                      {get_request(a, "operation=" + operation + "&message=" + a.label)},
                      [](const HttpReply& r) { return !r.body.empty(); });
}

// POSTs the OCSP requests; an answer counts when it is a successful OCSPResponse (the
// responder's unauthorized or malformedRequest would be cheap, and not what is measured).
int run_ocsp(const Args& a) {
  if (a.ocsp_requests.empty()) die("--mode ocsp needs --ocsp-request FILE");
  std::vector<std::string> requests;
  for (const std::string& file : a.ocsp_requests) {
    std::ifstream in(file, std::ios::binary);
    const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (body.empty()) die("cannot read " + file);
    requests.push_back("POST " + a.ocsp_path + " HTTP/1.1\r\nHost: " + a.host + ":" +
                       std::to_string(a.port) +
                       "\r\nUser-Agent: scep_load\r\nContent-Type: application/ocsp-request\r\n"
                       "Content-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  return run_requests(a, "OCSP", requests, [](const HttpReply& r) {
    // SEQUENCE, then responseStatus ENUMERATED 0 after a 2- to 5-byte header.
    const std::string& b = r.body;
    return b.size() > 8 && b[0] == 0x30 && b.find(std::string("\x0a\x01\x00", 3)) < 8;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Args a = parse_args(argc, argv);
  std::printf("OpenSSL legacy provider (single DES): %s\n",
              scep::des_available() ? "available" : "not available");
  if (a.mode == "ocsp") return run_ocsp(a);
  if (a.mode == "enroll") return run_enroll(a);
  if (a.mode == "otp") return run_otp(a);
  if (a.mode == "getcacaps") return run_get(a, "GetCACaps");
  if (a.mode == "getcacert") return run_get(a, "GetCACert");
  if (a.mode == "getcrl") return run_get(a, "GetCRL");
  die("unknown --mode " + a.mode);
}
