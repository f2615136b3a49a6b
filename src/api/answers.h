#pragma once
// Shared by the REST API's files (not part of its interface): JSON answers, problem
// documents, and how times and certificates are written.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "http/server.h"
#include "pki/certificate.h"

namespace scepter::api {

// 200.. with a JSON body.
http::Response json_answer(int status, const nlohmann::json& body);
// An RFC 9457 problem document: {"type":"about:blank","title":..,"status":..,"detail":..}.
http::Response problem(int status, std::string_view detail);
// 405 naming the methods `path` takes.
http::Response wrong_method(std::string_view allowed);
// RFC 3339, UTC.
std::string json_time(TimePoint t);
// Subject, issuer, serial, validity and SHA-256 fingerprint.
nlohmann::json certificate_summary(const pki::Certificate& cert);
// The JSON body of a POST: an object (an empty body is {}); nullopt when it is not JSON or
// not an object, or is not declared as application/json.
std::optional<nlohmann::json> json_body(const http::Request& req);

}  // namespace scepter::api
