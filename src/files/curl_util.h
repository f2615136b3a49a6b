#pragma once
// What every libcurl user here shares: one global initialisation and owning handles.

#include <memory>

#include <curl/curl.h>

namespace scepter::files {

// libcurl must be initialised once, before any other thread uses it; a function-local
// static makes that both once and thread-safe. The process keeps it until exit.
inline void init_curl() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)rc;  // a failure shows as curl_easy_init() returning null
}

struct CurlFree {
  void operator()(CURL* p) const { curl_easy_cleanup(p); }
  void operator()(CURLU* p) const { curl_url_cleanup(p); }
  void operator()(curl_slist* p) const { curl_slist_free_all(p); }
  void operator()(char* p) const { curl_free(p); }
};
template <class T>
using CurlPtr = std::unique_ptr<T, CurlFree>;

}  // namespace scepter::files
