#include "daemon/control_protocol.h"

#include <nlohmann/json.hpp>

namespace scepter::daemon {
namespace {

using nlohmann::json;

std::string dump_line(const json& j) {
  // error_handler_t::replace: session output may carry bytes from certificates or files
  // that are not valid UTF-8; dump() would otherwise throw.
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

std::optional<ControlOp> op_from(std::string_view name) {
  if (name == "hello") return ControlOp::kHello;
  if (name == "exec") return ControlOp::kExec;
  if (name == "help") return ControlOp::kHelp;
  if (name == "complete") return ControlOp::kComplete;
  return std::nullopt;
}

}  // namespace

Result<ControlRequest> parse_request(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(invalid_argument("request is not a JSON object"));
  auto op_it = j.find("op");
  if (op_it == j.end() || !op_it->is_string()) return fail(invalid_argument("request has no op"));
  std::optional<ControlOp> op = op_from(op_it->get_ref<const std::string&>());
  if (!op) return fail(invalid_argument("unknown op"));
  ControlRequest request;
  request.op = *op;
  if (*op != ControlOp::kHello) {
    auto line_it = j.find("line");
    if (line_it == j.end() || !line_it->is_string()) {
      return fail(invalid_argument("request has no line"));
    }
    request.line = line_it->get<std::string>();
    if (request.line.find('\n') != std::string::npos) {
      return fail(invalid_argument("line holds more than one line"));
    }
  }
  return request;
}

std::string encode_answer(const ControlAnswer& answer) {
  json j = {{"output", answer.output},
            {"ok", answer.ok},
            {"closed", answer.closed},
            {"prompt", answer.prompt},
            {"hidden", answer.hidden}};
  if (answer.completions) j["completions"] = *answer.completions;
  return dump_line(j);
}

std::string encode_async(std::string_view text) { return dump_line(json{{"async", text}}); }

}  // namespace scepter::daemon
