#include "pki/key_metrics.h"

namespace scepter::pki {

metrics::Histogram& key_operation_histogram(std::string_view operation, std::string_view object) {
  return metrics::Registry::global()
      .histogram("scepter_key_operation_duration_seconds",
                 "Private-key operations (signatures, decryptions), by operation and object.",
                 {"operation", "object"})
      .with({operation, object});
}

}  // namespace scepter::pki
