// big_ca_fill: makes a CA's main database (LABEL.ser, SQLite) look like that of a CA that
// has issued many certificates, without issuing them one by one. Run by
// bench/run_big_ca_bench.sh on a stopped scepterd.
//
//   big_ca_fill --db nvram/ca.ser --cnm-dir nvram [--certs 1000000] [--revoked 100000]
//               [--pending 10000] [--cnm-newest 1024] [--lifetime-days 365]
//
// It needs one certificate really issued by the CA through SCEP (the script enrols one),
// the template: the newest certificate in the database. Everything goes through the
// Store interface (store/store.h), so the rows, the counters and the request id mark are
// exactly what scepterd writes when it issues:
//   - certificate rows, from the serial after the template's up to the one that makes
//     --certs end-entity certificates (the CA's own, serial 1, not counted). Each row's
//     DER is the template re-encoded with the row's serial, subject (CN=big-SERIAL,
//     O=Scepter bench), notBefore and notAfter: real DER that OpenSSL parses, but with the
//     template's key and signature, so it does not verify (signing a million certificates
//     would take hours here). Issue times are spread over the year before now, in serial
//     order; validity is --lifetime-days. request_id is the serial less one (the request
//     rows of those grants have expired, as `lifetime enrollment-request` does).
//   - --revoked of them revoked: the serials that are multiples of certs/revoked, revoked
//     halfway between their issue and now.
//   - --pending requests in state pending, as SCEP PKCSReqs refused for a wrong challenge
//     password leave them: distinct PKCS#10 (one RSA-2048 key, subject CN=pending-I,
//     O=Scepter bench, signed), a transactionID, a self-signed signer certificate, created
//     now; ids above every request id the certificates name.
//   - the .cnm files (level names) of the newest --cnm-newest certificates in --cnm-dir:
//     scepterd reads none of them, and at start-up checks that the newest 256 exist
//     (writing the missing ones); 0 writes none, -1 all (about 4 KB of disk each).
// Not reproduced: request rows of old grants (gone by expiry anyway), .cnm files older
// than --cnm-newest, the CRL (scepterd's first start after the fill publishes it).

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "ca/certificate_server.h"
#include "common/clock.h"
#include "common/fs.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/key.h"
#include "pki/name.h"
#include "pki/serial_number.h"
#include "scep/client.h"
#include "store/store.h"

namespace {

using scepter::Result;
using scepter::TimePoint;
namespace pki = scepter::pki;
namespace store = scepter::store;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "big_ca_fill: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T check(Result<T> r, const std::string& what) {
  if (!r.has_value()) die(what + ": " + r.error().to_string());
  return std::move(*r);
}

void check(const scepter::Status& s, const std::string& what) {
  if (!s.ok()) die(what + ": " + s.to_string());
}

using Steady = std::chrono::steady_clock;
double since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

struct Args {
  std::string db;
  std::string cnm_dir;
  long certs = 1000000;
  long revoked = 100000;
  long pending = 10000;
  long cnm_newest = 1024;
  int lifetime_days = 365;
};

// The template re-encoded for `serial`: i2d_X509 encodes the TBS again once a setter
// marked it modified, and keeps the template's signature.
std::string certificate_der(X509* x, store::Serial serial, const X509_NAME* subject,
                            TimePoint not_before, TimePoint not_after) {
  pki::Ptr<ASN1_INTEGER> number(ASN1_INTEGER_new());
  pki::Ptr<ASN1_TIME> nb(ASN1_TIME_set(nullptr, scepter::to_unix(not_before)));
  pki::Ptr<ASN1_TIME> na(ASN1_TIME_set(nullptr, scepter::to_unix(not_after)));
  if (!number || !nb || !na || ASN1_INTEGER_set_uint64(number.get(), serial) != 1 ||
      X509_set_serialNumber(x, number.get()) != 1 || X509_set_subject_name(x, subject) != 1 ||
      X509_set1_notBefore(x, nb.get()) != 1 || X509_set1_notAfter(x, na.get()) != 1) {
    die("re-encoding the template");
  }
  unsigned char* out = nullptr;
  const int n = i2d_X509(x, &out);
  if (n <= 0) die("i2d_X509");
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return der;
}

void fill_certificates(const Args& a, store::Store& db) {
  const store::Serial last = check(db.last_serial(), "last serial");
  if (last < 2) die("no certificate issued yet: enrol one through SCEP first (the template)");
  const store::CertRecord tmpl = check(db.certificate(last), "the template certificate");
  const auto count = static_cast<long>(check(db.certificate_count(), "count"));
  const long have = count - 1;  // the CA's own certificate is serial 1
  if (have >= a.certs) die(fmt::format("{} certificates already: filled before?", have));
  auto parsed = check(pki::Certificate::from_der(tmpl.der), "parsing the template");
  pki::Ptr<X509> x(X509_dup(parsed.x509()));
  if (!x) die("X509_dup");

  const store::Serial first = last + 1;
  const store::Serial end = first + static_cast<store::Serial>(a.certs - have);  // exclusive
  // Revoked: the serials that are multiples of `every` (the script knows which).
  const long every = a.revoked > 0 ? std::max<long>(1, a.certs / a.revoked) : 0;
  const TimePoint now = scepter::SystemClock().now();
  const scepter::Seconds year = std::chrono::hours(24 * 365);
  const auto lifetime = std::chrono::hours(24) * a.lifetime_days;
  const TimePoint oldest = now - year;
  const long cnm_from =
      a.cnm_newest < 0 ? 0 : std::max<long>(0, static_cast<long>(end - first) - a.cnm_newest);

  const auto t0 = Steady::now();
  constexpr std::size_t kBatch = 5000;
  store::WriteBatch batch;
  long revoked = 0;
  long cnm_written = 0;
  for (store::Serial s = first; s < end; ++s) {
    const long i = static_cast<long>(s - first);
    const TimePoint nb = oldest + year * i / static_cast<long>(end - first);
    const std::string cn = fmt::format("CN=big-{},O=Scepter bench", s);
    auto subject = check(pki::parse_dn(cn), "subject");
    store::CertRecord rec;
    rec.serial = s;
    rec.der = certificate_der(x.get(), s, subject.get(), nb, nb + lifetime);
    rec.subject = pki::format_dn_ios(subject.get());
    rec.not_before = nb;
    rec.not_after = nb + lifetime;
    rec.request_id = static_cast<store::RequestId>(s - 1);
    if (every > 0 && revoked < a.revoked && s % static_cast<store::Serial>(every) == 0) {
      rec.revoked_at = nb + std::chrono::duration_cast<scepter::Seconds>((now - nb) / 2);
      ++revoked;
    }
    if (i >= cnm_from) {
      // The file scepterd writes at level names (CertificateServer::write_cert_files).
      const std::string text =
          fmt::format("serial=0x{}\nsubject={}\nexpires={}\n", pki::SerialNumber{s}.hex(),
                      rec.subject, scepter::format_iso_time(rec.not_after));
      // Not synced one by one as scepterd does (that would take minutes here).
      const std::string path = fmt::format("{}/{:X}.cnm", a.cnm_dir, s);
      std::FILE* f = std::fopen(path.c_str(), "w");
      if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() ||
          std::fclose(f) != 0) {
        die("writing " + path);
      }
      ++cnm_written;
    }
    batch.put_certificate(std::move(rec));
    if (batch.size() == kBatch) {
      check(db.write(batch), "writing certificates");
      batch.clear();
    }
  }
  if (!batch.empty()) check(db.write(batch), "writing certificates");
  std::printf(
      "certificates: serials %llu to %llu (%ld rows, %ld revoked, %ld .cnm files) "
      "in %.1f s\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(end - 1),
      static_cast<long>(end - first), revoked, cnm_written, since(t0));
}

void fill_pending(const Args& a, store::Store& db) {
  if (a.pending <= 0) return;
  const auto t0 = Steady::now();
  const store::Serial last = check(db.last_serial(), "last serial");
  // Past every id a certificate names (their request rows expired).
  store::RequestId id =
      std::max(check(db.next_request_id(), "request id"), static_cast<store::RequestId>(last));
  const pki::Key key = check(pki::Key::generate_rsa(2048), "key");
  auto signer_name = check(pki::parse_dn("CN=pending,O=Scepter bench"), "subject");
  auto signer = check(scepter::scep::make_self_signed_signer(key.evp(), signer_name.get()),
                      "signer certificate");
  const std::string signer_der =
      check(pki::Certificate::from_x509(std::move(signer)), "signer certificate").der();
  const TimePoint now = scepter::SystemClock().now();
  store::WriteBatch batch;
  for (long i = 0; i < a.pending; ++i) {
    auto subject = check(pki::parse_dn(fmt::format("CN=pending-{},O=Scepter bench", i)), "dn");
    auto csr =
        check(pki::make_csr(
                  {.subject = subject.get(), .key = key, .challenge_password = "not-the-password"}),
              "make_csr");
    store::RequestRecord r;
    r.id = ++id;
    r.state = store::RequestState::kPending;
    r.kind = store::RequestKind::kRouter;
    r.transaction_id = pki::md5_hex(fmt::format("big-ca-pending-{}", i));
    r.csr_der = csr.der();
    r.fingerprint = csr.md5_fingerprint();
    r.subject = pki::format_dn_ios(csr.subject());
    r.created = now;
    r.signer_cert_der = signer_der;
    r.flags = static_cast<int>(scepter::ca::RequestSource::kScep);
    batch.put_request(std::move(r));
    if (batch.size() == 1000) {
      check(db.write(batch), "writing requests");
      batch.clear();
    }
  }
  if (!batch.empty()) check(db.write(batch), "writing requests");
  std::printf("pending requests: ids up to %lld (%ld rows) in %.1f s\n", static_cast<long long>(id),
              a.pending, since(t0));
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"big_ca_fill: a CA database with many issued certificates"};
  app.add_option("--db", a.db, "The CA's main database (LABEL.ser) of a stopped scepterd")
      ->required();
  app.add_option("--cnm-dir", a.cnm_dir, "Where the CA writes its .cnm files")->required();
  app.add_option("--certs", a.certs, "End-entity certificates in the end");
  app.add_option("--revoked", a.revoked, "How many of the new ones are revoked");
  app.add_option("--pending", a.pending, "Pending requests to add");
  app.add_option("--cnm-newest", a.cnm_newest, ".cnm files of the newest certificates (-1: all)");
  app.add_option("--lifetime-days", a.lifetime_days, "Validity of the certificates");
  CLI11_PARSE(app, argc, argv);
  if (!scepter::fs::exists(a.db)) die(a.db + " does not exist");
  auto db = check(store::open_store({"sqlite:" + a.db}), "opening " + a.db);
  fill_certificates(a, *db);
  fill_pending(a, *db);
  check(db->checkpoint(), "checkpoint");
  std::printf("next serial would be 0x%llX\n",
              static_cast<unsigned long long>(check(db->allocate_serial(), "serial")));
  return 0;
}
