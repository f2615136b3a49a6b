#include "api/answers.h"

#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/name.h"

namespace scepter::api {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

}  // namespace

http::Response json_answer(int status, const nlohmann::json& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  // Invalid UTF-8 from a certificate is replaced rather than thrown.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  return r;
}

http::Response problem(int status, std::string_view detail) {
  http::Response r = json_answer(status, {{"type", "about:blank"},
                                          {"title", reason_phrase(status)},
                                          {"status", status},
                                          {"detail", detail}});
  r.content_type = "application/problem+json";
  return r;
}

http::Response wrong_method(std::string_view allowed) {
  http::Response r = problem(405, "Use " + std::string(allowed) + ".");
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

std::string json_time(TimePoint t) { return format_iso_time(t); }

nlohmann::json certificate_summary(const pki::Certificate& cert) {
  return {{"serial", cert.serial_hex()},
          {"subject", pki::format_dn_ios(cert.subject())},
          {"issuer", pki::format_dn_ios(cert.issuer())},
          {"not_before", json_time(cert.not_before())},
          {"not_after", json_time(cert.not_after())},
          {"sha256_fingerprint", pki::hex_upper(pki::digest(pki::Hash::kSha256, cert.der()))}};
}

std::optional<nlohmann::json> json_body(const http::Request& req) {
  std::string_view body = req.body;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return nlohmann::json::object();
  const auto type = req.header("Content-Type");
  if (!type || !type->starts_with("application/json")) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace scepter::api
