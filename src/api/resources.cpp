#include "api/resources.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "api/answers.h"
#include "ca/life_cycle.h"
#include "pki/crl.h"
#include "pki/identity.h"
#include "pki/name.h"
#include "pki/serial_number.h"

namespace scepter::api {
namespace {

using nlohmann::json;

const char* mode_name(ca::ServerMode mode) {
  switch (mode) {
    case ca::ServerMode::kRoot:
      return "root";
    case ca::ServerMode::kSubCs:
      return "sub-cs";
    case ca::ServerMode::kRa:
      return "ra";
    case ca::ServerMode::kRaTransparent:
      return "ra-transparent";
  }
  return "root";
}

const char* grant_name(ca::GrantMode grant) {
  switch (grant) {
    case ca::GrantMode::kManual:
      return "manual";
    case ca::GrantMode::kAuto:
      return "auto";
    case ca::GrantMode::kNone:
      return "none";
    case ca::GrantMode::kRaAuto:
      return "ra-auto";
  }
  return "manual";
}

const char* kind_name(store::RequestKind kind) {
  switch (kind) {
    case store::RequestKind::kRouter:
      return "router";
    case store::RequestKind::kRa:
      return "ra";
    case store::RequestKind::kSubCa:
      return "sub-ca";
    case store::RequestKind::kRouterRollover:
      return "router-rollover";
    case store::RequestKind::kRaRollover:
      return "ra-rollover";
  }
  return "router";
}

template <class T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json time_or_null(const std::optional<TimePoint>& t) {
  return t ? json(json_time(*t)) : json(nullptr);
}

json cert_or_null(const std::optional<pki::Certificate>& c) {
  return c ? certificate_summary(*c) : json(nullptr);
}

json server_json(ca::CertificateServer& server) {
  const ca::ServerInfo info = server.info();
  const ca::ServerGauges gauges = server.gauges();
  const ca::ServerConfig& c = info.config;
  return {{"label", server.label()},
          {"state", ca::server_state_name(info.state)},
          {"reason", info.reason},
          {"mode", mode_name(c.mode)},
          {"grant", grant_name(c.grant)},
          {"ca_certificate", cert_or_null(info.ca_certificate)},
          {"rollover_certificate", cert_or_null(info.rollover_certificate)},
          {"last_serial", pki::SerialNumber{info.last_serial}.hex()},
          {"certificates", optional_json(gauges.certificates)},
          {"pending_requests", optional_json(gauges.pending)},
          {"lifetimes",
           {{"ca_days", c.ca_lifetime_days},
            {"certificate_days", c.cert_lifetime_days},
            {"crl_hours", c.crl_lifetime_hours},
            {"request_hours", c.request_lifetime_hours}}},
          {"timers",
           {{"crl_next_update", time_or_null(info.crl_next_update)},
            {"ca_expires", time_or_null(gauges.ca_not_after)}}}};
}

json request_json(const store::RequestRecord& r) {
  return {
      {"id", r.id},
      {"state", store::request_state_name(r.state)},
      {"kind", kind_name(r.kind)},
      {"subject", r.subject},
      {"fingerprint", r.fingerprint},
      {"created", json_time(r.created)},
      {"transaction_id", r.transaction_id},
      {"certificate_serial", r.serial ? json(pki::SerialNumber{*r.serial}.hex()) : json(nullptr)},
      {"reason", r.reason}};
}

std::string cert_state(const store::CertRecord& c, TimePoint now) {
  if (c.revoked_at) return "revoked";
  if (now >= c.not_after) return "expired";
  return "valid";
}

// `with_der`: the certificate itself (PEM) and its alternative names, for one certificate.
json cert_json(const store::CertRecord& c, TimePoint now, const std::vector<std::string>* sans,
               bool with_der) {
  json j = {{"serial", pki::SerialNumber{c.serial, c.serial_entropy}.hex()},
            {"subject", c.subject},
            {"not_before", json_time(c.not_before)},
            {"not_after", json_time(c.not_after)},
            {"state", cert_state(c, now)},
            {"revoked_at", time_or_null(c.revoked_at)},
            {"revocation_reason", c.revocation_reason && pki::crl_reason_name(*c.revocation_reason)
                                      ? json(pki::crl_reason_name(*c.revocation_reason))
                                      : json(nullptr)},
            {"request_id", c.request_id == 0 ? json(nullptr) : json(c.request_id)}};
  if (sans) j["subject_alt_names"] = *sans;
  if (with_der) {
    auto cert = pki::Certificate::from_der(c.der);
    j["pem"] = cert.has_value() ? json(cert->pem()) : json(nullptr);
  }
  return j;
}

// A query parameter as a whole number in [lo, hi]; `fallback` when absent; nullopt when
// malformed or out of range.
std::optional<std::int64_t> int_param(const http::Request& req, std::string_view name,
                                      std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  auto v = req.params.get(name);
  if (!v) return fallback;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < lo || n > hi) return std::nullopt;
  return n;
}

bool contains_nocase(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         }) != hay.end();
}

// The shell's refusal of an action, as the answer: a missing object is 404, a state
// that forbids it 409, the server's own trouble 503, the rest 400. For an action on a
// request whose ID was well-formed, kInvalidArgument is its state (not pending).
http::Response refused(const Status& s, bool state_conflict = false) {
  if (state_conflict && s.code() == Code::kInvalidArgument) return problem(409, s.message());
  switch (s.code()) {
    case Code::kNotFound:
      return problem(404, s.message());
    case Code::kAlreadyExists:
    case Code::kAborted:
    case Code::kPermissionDenied:
      return problem(409, s.message());
    case Code::kUnavailable:
    case Code::kInternal:
      return problem(503, s.message());
    default:
      return problem(400, s.message());
  }
}

class ServerResource {
 public:
  ServerResource(ca::Device& device, const ApiService::Caller& caller, const http::Request& req,
                 std::shared_ptr<ca::CertificateServer> server)
      : device_(device), caller_(caller), req_(req), server_(std::move(server)) {}

  http::Response route(std::span<const std::string_view> rest) {
    const bool get = req_.method == "GET" || req_.method == "HEAD";
    if (rest.empty()) return get ? json_answer(200, server_json(*server_)) : wrong_method("GET");
    if (rest[0] == "requests") {
      if (rest.size() == 1) return get ? list_requests() : wrong_method("GET");
      auto id = request_id(rest[1]);
      if (!id) return problem(404, "A request ID is a number from 1 to 2147483647.");
      if (rest.size() == 2) {
        if (get) return show_request(*id);
        if (req_.method == "DELETE") return act_on_request("remove", *id);
        return wrong_method("GET, DELETE");
      }
      if (rest.size() == 3 && (rest[2] == "grant" || rest[2] == "reject")) {
        return req_.method == "POST" ? act_on_request(rest[2], *id) : wrong_method("POST");
      }
    } else if (rest[0] == "certificates") {
      if (rest.size() == 1) return get ? list_certificates() : wrong_method("GET");
      auto serial = pki::SerialNumber::parse(rest[1]);
      if (!serial) return problem(404, "A serial number is 0xHEX, 0OCTAL or decimal.");
      if (rest.size() == 2) return get ? show_certificate(*serial) : wrong_method("GET");
      if (rest.size() == 3 && rest[2] == "revoke") {
        return req_.method == "POST" ? revoke(*serial) : wrong_method("POST");
      }
    } else if (rest[0] == "crl") {
      if (rest.size() == 1) return get ? crl() : wrong_method("GET");
      if (rest.size() == 2 && rest[1] == "info") return get ? crl_info() : wrong_method("GET");
    } else if (rest[0] == "otp" && rest.size() == 1) {
      return req_.method == "POST" ? one_time_password() : wrong_method("POST");
    }
    return problem(404, "No such resource.");
  }

 private:
  static std::optional<store::RequestId> request_id(std::string_view text) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 2147483647) {
      return std::nullopt;
    }
    return static_cast<store::RequestId>(n);
  }

  // The audit record the shell writes for `command`, and whether the caller may act.
  std::optional<http::Response> refuse_reader(const std::string& command) {
    if (caller_.role != ca::Role::kReadOnly) return std::nullopt;
    device_.audit().record({"command", caller_.actor, server_->label(), command,
                            "failed: % Privilege level 1 may only read."});
    return problem(403, "This account reads only (privilege 1); acting takes privilege 2 to 15.");
  }

  void audit(const std::string& command, const Status& s) {
    device_.audit().record({"command", caller_.actor, server_->label(), command,
                            s.ok() ? std::string("ok") : "failed: % " + s.message()});
  }

  http::Response list_requests() {
    const auto state = req_.params.get("state");
    const auto offset = int_param(req_, "offset", 0, 0, 1 << 30);
    const auto limit = int_param(req_, "limit", kDefaultPage, 1, kMaxPage);
    if (!offset || !limit) {
      return problem(400, fmt::format("offset is 0 or more; limit is 1 to {}.", kMaxPage));
    }
    auto all = server_->requests();
    if (!all.has_value()) return refused(all.error());
    json items = json::array();
    std::int64_t matched = 0;
    for (const store::RequestRecord& r : *all) {
      if (state && *state != store::request_state_name(r.state)) continue;
      if (matched >= *offset && matched < *offset + *limit) items.push_back(request_json(r));
      ++matched;
    }
    return json_answer(
        200, {{"total", matched}, {"offset", *offset}, {"limit", *limit}, {"requests", items}});
  }

  http::Response show_request(store::RequestId id) {
    auto all = server_->requests();
    if (!all.has_value()) return refused(all.error());
    for (const store::RequestRecord& r : *all) {
      if (r.id != id) continue;
      json j = request_json(r);
      j["dropped_by_profile"] = server_->dropped_by_profile(r);
      return json_answer(200, j);
    }
    return problem(404, fmt::format("There is no request {}.", id));
  }

  // grant, reject, remove: `crypto pki server LABEL VERB ID`.
  http::Response act_on_request(std::string_view verb, store::RequestId id) {
    const std::string command =
        fmt::format("crypto pki server {} {} {}", server_->label(), verb, id);
    if (auto no = refuse_reader(command)) return std::move(*no);
    if (verb == "grant") {
      auto issued = server_->grant(id);
      audit(command, issued.has_value() ? ok_status() : issued.error());
      if (!issued.has_value()) return refused(issued.error(), true);
      json certs = json::array();
      for (const ca::IssuedCertificate& i : *issued) {
        json c = certificate_summary(i.certificate);
        c["pem"] = i.certificate.pem();
        certs.push_back(std::move(c));
      }
      return json_answer(
          200,
          {{"id", id}, {"forwarded", ca::is_ra_mode(server_->config())}, {"certificates", certs}});
    }
    Status s = verb == "reject" ? server_->reject(id) : server_->remove(id);
    audit(command, s);
    if (!s.ok()) return refused(s, true);
    return json_answer(200, {{"id", id}, {"done", verb == "reject" ? "rejected" : "removed"}});
  }

  http::Response list_certificates() {
    const auto subject = req_.params.get("subject");
    const auto san = req_.params.get("san");
    const auto state = req_.params.get("state");
    const auto serial_text = req_.params.get("serial");
    const auto offset = int_param(req_, "offset", 0, 0, 1 << 30);
    const auto limit = int_param(req_, "limit", kDefaultPage, 1, kMaxPage);
    if (!offset || !limit) {
      return problem(400, fmt::format("offset is 0 or more; limit is 1 to {}.", kMaxPage));
    }
    if (state && *state != "valid" && *state != "revoked" && *state != "expired") {
      return problem(400, "state is valid, revoked or expired.");
    }
    std::optional<pki::SerialNumber> serial;
    if (serial_text) {
      serial = pki::SerialNumber::parse(*serial_text);
      if (!serial) return problem(400, "serial is 0xHEX, 0OCTAL or decimal.");
    }
    const TimePoint now = device_.clock().now();
    json items = json::array();
    std::int64_t matched = 0;
    Status s = server_->for_each_certificate([&](const store::CertRecord& c) {
      if (serial && c.serial != serial->sequence) return true;
      if (state && cert_state(c, now) != *state) return true;
      if (subject && !contains_nocase(c.subject, *subject)) return true;
      std::vector<std::string> sans;
      if (san) {
        auto cert = pki::Certificate::from_der(c.der);
        if (cert.has_value()) sans = pki::alt_names(*cert);
        if (std::none_of(sans.begin(), sans.end(),
                         [&](const std::string& n) { return contains_nocase(n, *san); })) {
          return true;
        }
      }
      if (matched >= *offset && matched < *offset + *limit) {
        items.push_back(cert_json(c, now, san ? &sans : nullptr, false));
      }
      ++matched;
      return true;
    });
    if (!s.ok()) return refused(s);
    return json_answer(
        200, {{"total", matched}, {"offset", *offset}, {"limit", *limit}, {"certificates", items}});
  }

  http::Response show_certificate(const pki::SerialNumber& serial) {
    auto record = server_->stored_certificate(serial.sequence);
    if (!record.has_value()) {
      if (record.error().code() == Code::kNotFound) {
        return problem(404, fmt::format("Certificate with serial number 0x{} was not issued by "
                                        "this server.",
                                        serial.hex()));
      }
      return refused(record.error());
    }
    if (serial.entropy && record->serial_entropy != serial.entropy) {
      return problem(404, fmt::format("Certificate with serial number 0x{} was not issued by "
                                      "this server.",
                                      serial.hex()));
    }
    std::vector<std::string> sans;
    if (auto cert = pki::Certificate::from_der(record->der); cert.has_value()) {
      sans = pki::alt_names(*cert);
    }
    return json_answer(200, cert_json(*record, device_.clock().now(), &sans, true));
  }

  // `crypto pki server LABEL revoke SERIAL [reason R]`.
  http::Response revoke(const pki::SerialNumber& serial) {
    auto body = json_body(req_);
    if (!body) return problem(400, "The body must be a JSON object sent as application/json.");
    std::optional<int> reason;
    std::string command =
        fmt::format("crypto pki server {} revoke 0x{}", server_->label(), serial.hex());
    if (auto r = body->find("reason"); r != body->end()) {
      if (!r->is_string() || !(reason = pki::crl_entry_reason_by_name(r->get<std::string>()))) {
        return problem(400,
                       "reason is an RFC 5280 CRLReason name other than removeFromCRL, "
                       "e.g. \"keyCompromise\".");
      }
      std::string keyword = pki::crl_reason_name(*reason);
      for (char& ch : keyword) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      command += " reason " + keyword;
    }
    if (auto no = refuse_reader(command)) return std::move(*no);
    Status s = server_->revoke(serial, reason);
    audit(command, s);
    if (s.code() == Code::kNotFound) {
      return problem(404, fmt::format("Certificate with serial number 0x{} was not issued by this "
                                      "server.",
                                      serial.hex()));
    }
    if (s.code() == Code::kAlreadyExists) {
      return problem(409, fmt::format("Certificate with serial number 0x{} is already revoked.",
                                      serial.hex()));
    }
    if (!s.ok()) return refused(s);
    return json_answer(200,
                       {{"serial", serial.hex()},
                        {"state", "revoked"},
                        {"reason", reason ? json(pki::crl_reason_name(*reason)) : json(nullptr)}});
  }

  http::Response crl() {
    auto der = server_->crl_der();
    if (!der) return problem(404, "This server has no CRL (it is not enabled).");
    http::Response r;
    r.content_type = "application/pkix-crl";
    r.shared_body = std::move(der);
    r.headers = {
        {"Cache-Control", "no-store"},
        {"Content-Disposition", fmt::format("attachment; filename=\"{}.crl\"", server_->label())}};
    return r;
  }

  http::Response crl_info() {
    auto crl = server_->current_crl();
    if (!crl.has_value()) return refused(crl.error());
    const pki::CrlInfo& i = crl->info;
    json entries = json::array();
    for (const auto& e : i.entries) {
      entries.push_back({{"serial", e.serial.hex()},
                         {"revoked_at", json_time(e.revoked_at)},
                         {"reason", e.reason && pki::crl_reason_name(*e.reason)
                                        ? json(pki::crl_reason_name(*e.reason))
                                        : json(nullptr)}});
    }
    return json_answer(200, {{"issuer", pki::format_dn_ios(i.issuer.get())},
                             {"this_update", json_time(i.this_update)},
                             {"next_update", time_or_null(i.next_update)},
                             {"crl_number", optional_json(i.crl_number)},
                             {"signature_algorithm", i.signature_algorithm},
                             {"size_bytes", i.size_bytes},
                             {"entries", entries}});
  }

  // `crypto pki server LABEL password generate [MINUTES]`.
  http::Response one_time_password() {
    auto body = json_body(req_);
    if (!body) return problem(400, "The body must be a JSON object sent as application/json.");
    int minutes = 60;
    if (auto m = body->find("minutes"); m != body->end()) {
      if (!m->is_number_integer() || *m < 1 || *m > 1440) {
        return problem(400, "minutes is a whole number from 1 to 1440.");
      }
      minutes = m->get<int>();
    }
    const std::string command =
        fmt::format("crypto pki server {} password generate {}", server_->label(), minutes);
    if (auto no = refuse_reader(command)) return std::move(*no);
    auto otp = server_->generate_password(minutes);
    audit(command, otp.has_value() ? ok_status() : otp.error());
    if (!otp.has_value()) return refused(otp.error());
    return json_answer(201, {{"password", otp->password}, {"expires", json_time(otp->expires)}});
  }

  ca::Device& device_;
  const ApiService::Caller& caller_;
  const http::Request& req_;
  std::shared_ptr<ca::CertificateServer> server_;
};

}  // namespace

http::Response serve_servers(ca::Device& device, const ApiService::Caller& caller,
                             const http::Request& req, std::span<const std::string_view> rest) {
  if (rest.empty()) {
    if (req.method != "GET" && req.method != "HEAD") return wrong_method("GET");
    json servers = json::array();
    for (const auto& server : device.servers()) servers.push_back(server_json(*server));
    return json_answer(200, {{"servers", servers}});
  }
  auto server = device.server(std::string(rest[0]));
  if (!server) {
    return problem(404, fmt::format("Certificate server {} does not exist.", rest[0]));
  }
  return ServerResource(device, caller, req, std::move(server)).route(rest.subspan(1));
}

}  // namespace scepter::api
