#include "acme/problem.h"

namespace scepter::acme {

std::string problem_type_urn(std::string_view type) {
  return "urn:ietf:params:acme:error:" + std::string(type);
}

}  // namespace scepter::acme
