// libFuzzer target for ACME: AcmeService::handle() on a real Device with one enabled
// certificate server that has `acme`, fed what a client on the network controls — the
// method, the path under /acme/ca/, the Content-Type, and the body. A random body almost
// never carries a live nonce and a valid signature, so the first byte can also ask for the
// fuzzed text to be sent as the payload of a correctly signed request: by the fixture's
// account (kid) or by a key of its own (jwk), with a fresh nonce and the right url. That
// way the resources behind the JWS checks get the fuzzer's payloads too. Every answer must
// be a known status with a JSON (or PEM, or empty) body; nothing may crash.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "acme/jws_testing.h"
#include "acme/service.h"
#include "ca/device_test_support.h"
#include "fuzz_input.h"

namespace {

constexpr const char* kBase = "https://ca.example.test/acme/ca/";

struct Fixture : scepter::ca::testing::DeviceWithServer {
  Fixture() {
    const scepter::Status opened = open_device([](scepter::ca::ServerConfig& c) {
      c.archive_enabled = false;
      c.acme.enabled = true;
      c.acme.dns_suffixes = {"example.test"};
      // DNS names only, resolved by nobody (port 1 refuses at once): validations end fast.
      c.acme.resolver = "127.0.0.1:1";
      c.acme.http_port = 1;
      c.acme.tls_port = 1;
      c.acme_auto = true;
    });
    CA_ASSERT(opened.ok(), "an enabled server");
    key = std::make_unique<scepter::pki::Key>(*scepter::pki::Key::generate_ec(256));
    service = std::make_unique<scepter::acme::AcmeService>(*device_);
    auto answer = post("new-account", *key, "", R"({"termsOfServiceAgreed": true})");
    CA_ASSERT(answer.status == 201, "an account");
    for (const auto& [name, value] : answer.headers) {
      if (name == "Location") kid = value;
    }
  }
  scepter::acme::AcmeHttpResponse send(std::string method, std::string path,
                                       std::string content_type, std::string body) {
    scepter::acme::AcmeHttpRequest r;
    r.method = std::move(method);
    r.path = "/acme/ca/" + path;
    r.host = "ca.example.test";
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    r.peer_address = "192.0.2.1";
    return service->handle(r);
  }

  std::string nonce() {
    auto a = send("HEAD", "new-nonce", "", "");
    for (const auto& [name, value] : a.headers) {
      if (name == "Replay-Nonce") return value;
    }
    return "";
  }

  scepter::acme::AcmeHttpResponse post(const std::string& path, const scepter::pki::Key& k,
                                       const std::string& by, std::string_view payload) {
    return send("POST", path, "application/jose+json",
                scepter::acme::test::request_body(k, kBase + path, nonce(), by, payload));
  }

  std::unique_ptr<scepter::pki::Key> key;
  std::unique_ptr<scepter::acme::AcmeService> service;
  std::string kid;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

// The CA's key is made here, outside the per-input timeout (it takes seconds under ASan).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const auto parts = scepter::fuzzing::split_fields(
      std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), 3);
  static constexpr const char* kMethods[] = {"GET", "POST", "HEAD", "PUT"};
  scepter::acme::AcmeHttpResponse r;
  std::string path(parts[0]);
  if (((mode >> 2) & 3) != 0) {
    // The signed request carries the path in its url header, which the client side
    // (jws_testing.h) writes as JSON: printable ASCII only there.
    for (char& ch : path) {
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '_';
    }
  }
  switch ((mode >> 2) & 3) {
    case 1:  // signed by the fixture's account
      r = f.post(path, *f.key, f.kid, parts[2]);
      break;
    case 2: {  // signed by the fixture's key as a jwk (new-account, revoke-cert)
      r = f.post(path, *f.key, "", parts[2]);
      break;
    }
    default:
      r = f.send(kMethods[mode & 3], path, std::string(parts[1]), std::string(parts[2]));
      break;
  }
  const int s = r.status;
  CA_ASSERT(s == 200 || s == 201 || s == 204 || s == 400 || s == 401 || s == 403 || s == 404 ||
                s == 405 || s == 409 || s == 413 || s == 415 || s == 429 || s == 500 || s == 503,
            "a known ACME status");
  if (r.content_type.find("json") != std::string::npos) {
    CA_ASSERT(nlohmann::json::accept(r.body), "a JSON answer");
  }
  // Validations the fuzzer started (they fail at once: nothing listens) must not pile up.
  f.service->drain_validations();
  std::error_code ec;
  const std::string audit = f.device_->audit_log_path();
  if (std::filesystem::file_size(audit, ec) > (1u << 20))
    std::filesystem::resize_file(audit, 0, ec);
  return 0;
}
