#pragma once
// The resources under /api/v1/servers (not part of the API module's interface).

#include <span>
#include <string_view>

#include "api/service.h"

namespace scepter::api {

// `rest`: the path's segments after "servers".
http::Response serve_servers(ca::Device& device, const ApiService::Caller& caller,
                             const http::Request& req, std::span<const std::string_view> rest);

}  // namespace scepter::api
