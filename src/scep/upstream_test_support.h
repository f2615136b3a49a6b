#pragma once
// For scep/ tests of HttpUpstream only: certificates of a small hierarchy (root, sub-CA,
// RAs), a test HTTP server on 127.0.0.1 that remembers what it was asked, and requests
// built as a trustpoint builds them. Header-only.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/testing.h"
#include "http/server.h"
#include "scep/cert_rep.h"
#include "scep/service_fixture.h"
#include "scep/upstream_client.h"

namespace scepter::scep::upstream_testing {

using ca::UpstreamReply;
using ca::UpstreamRequest;
using testing::client_key;

// ---------------------------------------------------------------------------------
// Certificates

// A v3 certificate for `key`: self-signed when `issuer` is null. `ca` adds
// basicConstraints CA:TRUE; `key_usage` (OpenSSL's config syntax), when given, keyUsage.
inline pki::Certificate make_cert(std::string_view cn, EVP_PKEY* key,
                                  const pki::Certificate* issuer, EVP_PKEY* issuer_key, bool ca,
                                  const char* key_usage = nullptr, long serial = 1) {
  pki::Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_set_subject_name(cert.get(), testing::name(cn).get());
  X509_set_issuer_name(cert.get(), issuer ? issuer->subject() : X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 365);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer->x509() : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    pki::Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    X509_add_ext(cert.get(), ext.get(), -1);
  };
  if (ca) add(NID_basic_constraints, "critical,CA:TRUE");
  if (key_usage != nullptr) add(NID_key_usage, key_usage);
  X509_sign(cert.get(), issuer ? issuer_key : key, EVP_sha256());
  return *pki::Certificate::from_x509(std::move(cert));
}

inline pki::Key key_of(EVP_PKEY* key) { return *pki::Key::from_evp(pki::up_ref(key)); }

// Keys 10.. of the shared test keys: a root, a sub-CA, RAs and a stranger.
inline EVP_PKEY* root_key() { return client_key(10); }
inline EVP_PKEY* sub_key() { return client_key(11); }
inline EVP_PKEY* ra_sign_key() { return client_key(12); }
inline EVP_PKEY* ra_encrypt_key() { return client_key(13); }
inline EVP_PKEY* stranger_key() { return client_key(14); }

struct Hierarchy {
  pki::Certificate root = make_cert("Root CA", root_key(), nullptr, nullptr, true);
  pki::Certificate sub = make_cert("Sub CA", sub_key(), &root, root_key(), true);
  pki::Certificate ra_both =
      make_cert("RA", ra_sign_key(), &sub, sub_key(), false, nullptr, 2);  // no keyUsage
  pki::Certificate ra_sign =
      make_cert("RA sign", ra_sign_key(), &sub, sub_key(), false, "critical,digitalSignature", 3);
  pki::Certificate ra_sign2 =
      make_cert("RA sign 2", ra_encrypt_key(), &sub, sub_key(), false, "nonRepudiation", 4);
  pki::Certificate ra_encrypt =
      make_cert("RA encrypt", ra_encrypt_key(), &sub, sub_key(), false, "keyEncipherment", 5);
  pki::Certificate stranger = make_cert("Stranger", stranger_key(), nullptr, nullptr, false);
};

inline const Hierarchy& hierarchy() {
  static const Hierarchy h;
  return h;
}

inline std::string bundle(const std::vector<pki::Certificate>& certs) {
  std::vector<X509*> raw;
  for (const auto& c : certs) raw.push_back(c.x509());
  return *encode_degenerate_certs(raw);
}

// ---------------------------------------------------------------------------------
// A test HTTP server on 127.0.0.1 that remembers what it was asked.

struct Seen {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  std::string content_type;
  std::string user_agent;
};

class TestServer {
 public:
  static std::unique_ptr<TestServer> start(http::Handler handler) {
    auto server = std::unique_ptr<TestServer>(new TestServer);
    http::ServerOptions options;
    options.bind_address = "127.0.0.1";
    options.port = 0;
    options.worker_threads = 2;
    options.light_worker_threads = 1;
    options.io_threads = 1;
    TestServer* self = server.get();
    auto created = http::HttpServer::create(options, [self, handler](const http::Request& r) {
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->seen_.push_back({r.method, r.path, r.query, r.body,
                               std::string(r.header("Content-Type").value_or("")),
                               std::string(r.header("User-Agent").value_or(""))});
      }
      return handler(r);
    });
    if (!created.has_value()) {
      ADD_FAILURE() << created.error().to_string();
      return nullptr;
    }
    server->http_ = std::move(*created);
    EXPECT_OK(server->http_->start());
    return server;
  }

  std::string url(std::string_view path = "") const {
    return fmt::format("http://127.0.0.1:{}{}", http_->port(), path);
  }
  std::uint16_t port() const { return http_->port(); }
  void stop() { http_->stop(); }

  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  TestServer() = default;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::unique_ptr<http::HttpServer> http_;  // last: stopped before the members above die
};

inline http::Response answer(int status, std::string content_type, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

// `service` behind a TestServer, wired as scepterd's HTTP front end wires it
// (daemon/http_frontend.cpp).
inline std::unique_ptr<TestServer> serve_scep(const ScepService& service) {
  return TestServer::start([&service](const http::Request& req) {
    ScepHttpRequest in;
    in.method = req.method;
    in.operation = std::string(req.params.get("operation").value_or(""));
    if (auto raw = req.params.raw("message")) {
      in.message_raw = std::string(*raw);
      in.has_message = true;
    }
    in.body = req.body;
    ScepHttpResponse out = service.handle(in);
    return answer(out.status, out.content_type, std::string(out.payload()));
  });
}

// The DER of a PKIOperation request as the server received it.
inline std::string pki_message_of(const http::Request& r) {
  if (r.method == "POST") return r.body;
  auto der = decode_get_message(r.params.raw("message").value_or(""));
  return der.value_or("");
}

// A request for `key` (subject CN=cn) to `upstream`, signed by a throw-away certificate.
inline UpstreamRequest make_request(std::string url, EVP_PKEY* key, std::string_view cn,
                                    ca::UpstreamCertificates upstream, ca::UpstreamCaps caps,
                                    UpstreamRequest::Kind kind = UpstreamRequest::Kind::kPkcsReq) {
  auto csr = testing::make_csr(key, cn, "");
  auto self = make_self_signed_signer(key, X509_REQ_get_subject_name(csr.get()));
  return UpstreamRequest{.url = std::move(url),
                         .kind = kind,
                         .csr_der = testing::csr_der(csr.get()),
                         .transaction_id = *transaction_id_for(key),
                         .signer_cert = *pki::Certificate::from_x509(std::move(*self)),
                         .signer_key = key_of(key),
                         .upstream = std::move(upstream),
                         .caps = std::move(caps)};
}

inline ca::UpstreamCertificates only_ca(const pki::Certificate& ca) {
  ca::UpstreamCertificates u;
  u.ca_chain.push_back(ca);
  return u;
}

inline ca::UpstreamCaps standard_caps() {
  ca::UpstreamCaps caps;
  caps.scep_standard = true;
  return caps;
}

}  // namespace scepter::scep::upstream_testing
