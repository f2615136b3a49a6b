#include "pki/provider.h"

#include <mutex>

#include <openssl/err.h>
#include <openssl/provider.h>

namespace scepter::pki {
namespace {

// Our references to the providers, held for the life of the process like OpenSSL's own
// fallback provider; never unloaded. Keeping the handles, rather than dropping them, also
// lets leak checkers see that the providers' memory is still owned.
OSSL_PROVIDER* g_default_provider = nullptr;
OSSL_PROVIDER* g_legacy_provider = nullptr;

}  // namespace

bool load_legacy_provider() {
  static std::once_flag once;
  std::call_once(once, [] {
    // retain_fallbacks = 1: loading a provider explicitly must not switch off the
    // default provider for the rest of the process.
    g_default_provider = OSSL_PROVIDER_try_load(nullptr, "default", 1);
    g_legacy_provider = OSSL_PROVIDER_try_load(nullptr, "legacy", 1);
    ERR_clear_error();
  });
  return g_legacy_provider != nullptr;
}

}  // namespace scepter::pki
