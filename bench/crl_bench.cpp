// CRL generation benchmark: a CA with N sequentially numbered revoked serials and an
// RSA-2048 key. Measures the start-up cost (filling a CrlBuilder from N database rows, or
// loading the last CRL file), building and signing the CRL, writing it with fsync, and
// the "one more revoke" path (add + build + sign + write). Run by bench/run_crl_bench.sh,
// which also times `openssl ca -gencrl` on the same CA and serials.
//
// Usage: crl_bench --n N --dir DIR [--repeat R]
// Writes DIR/ca.pem, DIR/ca.key (unencrypted, for the openssl comparison) and DIR/ca.crl.
// Prints a table, then one "RESULT key=value ..." line for scripts.

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <openssl/pem.h>

#include "common/clock.h"
#include "common/fs.h"
#include "pki/crl.h"
#include "pki/ptr.h"

namespace {

using scepter::Result;
using scepter::Status;
using scepter::TimePoint;
using scepter::pki::CrlBuilder;
using scepter::pki::Ptr;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "crl_bench: %s\n", what.c_str());
  std::exit(1);
}

void check(const Status& s, const char* what) {
  if (!s.ok()) die(std::string(what) + ": " + s.to_string());
}

template <class T>
T check(Result<T> r, const char* what) {
  if (!r.has_value()) die(std::string(what) + ": " + r.error().to_string());
  return std::move(*r);
}

// Wall-clock and CPU time of one run of `f`. The machine may be shared, so CPU time is
// reported beside wall time: it moves much less when other processes compete for the cores.
struct Sample {
  double wall = 0;  // seconds
  double cpu = 0;   // seconds of this process (user + system)
};

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Sample measure(const std::function<void()>& f) {
  const double cpu_start = cpu_now();
  const auto start = std::chrono::steady_clock::now();
  f();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          cpu_now() - cpu_start};
}

// Median by wall time, and the largest wall time.
Sample median(std::vector<Sample> v) {
  std::sort(v.begin(), v.end(), [](const Sample& a, const Sample& b) { return a.wall < b.wall; });
  return v[v.size() / 2];
}
double max_wall(const std::vector<Sample>& v) {
  double m = 0;
  for (const Sample& s : v) m = std::max(m, s.wall);
  return m;
}

void row(const char* what, const Sample& s) {
  std::printf("  %-46s %9.1f ms  (CPU %.1f ms)\n", what, s.wall * 1e3, s.cpu * 1e3);
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct Ca {
  Ptr<EVP_PKEY> key;
  Ptr<X509> cert;
};

Ca make_rsa_ca() {
  Ca ca;
  ca.key.reset(EVP_RSA_gen(2048));
  ca.cert.reset(X509_new());
  if (!ca.key || !ca.cert) die("key generation failed");
  X509* c = ca.cert.get();
  X509_set_version(c, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("bench CA"), -1, -1, 0);
  X509_set_issuer_name(c, name);
  X509_gmtime_adj(X509_getm_notBefore(c), -86400);
  X509_gmtime_adj(X509_getm_notAfter(c), 20L * 365 * 86400);
  X509_set_pubkey(c, ca.key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, c, c, nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                   std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                                   std::pair{NID_subject_key_identifier, "hash"}}) {
    Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(c, ext.get(), -1) != 1) die("extension");
  }
  if (X509_sign(c, ca.key.get(), EVP_sha256()) <= 0) die("self-signing failed");
  return ca;
}

void write_pem(const std::string& dir, const Ca& ca) {
  Ptr<BIO> cert(BIO_new_file((dir + "/ca.pem").c_str(), "w"));
  if (!cert || PEM_write_bio_X509(cert.get(), ca.cert.get()) != 1) die("writing ca.pem");
  Ptr<BIO> key(BIO_new_file((dir + "/ca.key").c_str(), "w"));
  if (!key || PEM_write_bio_PrivateKey(key.get(), ca.key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    die("writing ca.key");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 0;
  std::string dir;
  int repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--n") == 0) n = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::atoi(argv[i + 1]);
  }
  if (n == 0 || dir.empty() || repeat < 1) die("usage: crl_bench --n N --dir DIR [--repeat R]");

  const Ca ca = make_rsa_ca();
  write_pem(dir, ca);
  const std::string crl_path = dir + "/ca.crl";
  // Serials 2..N+1 (the CA certificate is 1), each revoked at its own second.
  const TimePoint now = scepter::from_unix(1735995514);  // 2025-01-04 12:58:34 UTC
  const TimePoint first_revocation = now - scepter::Seconds(static_cast<std::int64_t>(n));
  const TimePoint next_update = now + scepter::Seconds(6 * 3600);
  const double rss_before = peak_rss_mb();

  std::optional<CrlBuilder> builder;
  const Sample fill = measure([&] {
    builder.emplace(check(CrlBuilder::create(ca.cert.get(), ca.key.get()), "create"));
    builder->reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      check(builder->add(scepter::pki::SerialNumber{2 + i},
                         first_revocation + scepter::Seconds(static_cast<std::int64_t>(i))),
            "add");
    }
  });

  std::string der;
  std::vector<Sample> builds;
  std::vector<Sample> writes;
  std::uint64_t crl_number = 1;
  for (int r = 0; r < repeat; ++r) {
    builds.push_back(measure(
        [&] { der = check(builder->build(now, next_update, crl_number, EVP_sha256()), "build"); }));
    writes.push_back(
        measure([&] { check(scepter::fs::write_atomic(crl_path, der), "write_atomic"); }));
  }
  // The first fill + build + write in sequence: a cold start from N database rows.
  const Sample cold{fill.wall + builds[0].wall + writes[0].wall,
                    fill.cpu + builds[0].cpu + writes[0].cpu};
  const std::size_t der_size = der.size();  // N entries; the loop below adds more

  // One more revoke on a CA that already lists N serials, end to end.
  std::vector<Sample> one_more;
  for (int r = 0; r < repeat; ++r) {
    const std::uint64_t serial = 2 + n + static_cast<std::uint64_t>(r);
    one_more.push_back(measure([&] {
      check(builder->add(scepter::pki::SerialNumber{serial}, now), "add");
      der = check(builder->build(now, next_update, ++crl_number, EVP_sha256()), "build");
      check(scepter::fs::write_atomic(crl_path, der), "write_atomic");
    }));
  }
  const double rss_serving = peak_rss_mb();
  const std::size_t entries = builder->size();
  builder.reset();

  // Start-up from the CRL file instead of the database.
  const Sample load = measure([&] {
    const std::string file = check(scepter::fs::read_file(crl_path), "read_file");
    builder.emplace(check(CrlBuilder::load(ca.cert.get(), ca.key.get(), file), "load"));
  });
  if (builder->size() != entries) die("load lost entries");
  builder.reset();
  std::size_t parsed = 0;
  const Sample info = measure(
      [&] { parsed = check(scepter::pki::parse_crl_info(der), "parse_crl_info").entries.size(); });
  if (parsed != entries) die("parse_crl_info lost entries");

  const Sample build = median(builds);
  const Sample write = median(writes);
  const Sample revoke = median(one_more);
  std::printf("CRL benchmark: N = %zu revoked serials, RSA-2048, SHA-256 (median of %d)\n", n,
              repeat);
  row("fill CrlBuilder from N rows (start-up)", fill);
  row("load CrlBuilder from the CRL file (start-up)", load);
  row("build + sign CRL", build);
  row("write_atomic with fsync", write);
  row("cold: fill + build + sign + write", cold);
  row("one more revoke: add + build + sign + write", revoke);
  std::printf("  %-46s %9.1f ms\n", "one more revoke, slowest", max_wall(one_more) * 1e3);
  row("parse_crl_info (display)", info);
  std::printf("  %-46s %9zu bytes\n", "CRL DER size (N entries)", der_size);
  std::printf("  %-46s %9.1f MB (%.1f MB before the CA was built)\n",
              "peak RSS, serving (fill+build+write+revoke)", rss_serving, rss_before);
  std::printf("  %-46s %9.1f MB\n", "peak RSS, whole run (+ load + parse)", peak_rss_mb());
  std::printf(
      "RESULT n=%zu fill_ms=%.1f fill_cpu_ms=%.1f load_ms=%.1f load_cpu_ms=%.1f build_ms=%.1f "
      "build_cpu_ms=%.1f write_ms=%.1f write_cpu_ms=%.1f cold_ms=%.1f cold_cpu_ms=%.1f "
      "one_more_ms=%.1f one_more_cpu_ms=%.1f one_more_max_ms=%.1f info_ms=%.1f der_bytes=%zu "
      "rss_mb=%.1f rss_all_mb=%.1f\n",
      n, fill.wall * 1e3, fill.cpu * 1e3, load.wall * 1e3, load.cpu * 1e3, build.wall * 1e3,
      build.cpu * 1e3, write.wall * 1e3, write.cpu * 1e3, cold.wall * 1e3, cold.cpu * 1e3,
      revoke.wall * 1e3, revoke.cpu * 1e3, max_wall(one_more) * 1e3, info.wall * 1e3, der_size,
      rss_serving, peak_rss_mb());
  return 0;
}
