#include "pki/io.h"

#include <climits>

namespace scepter::pki {

Ptr<BIO> read_bio(std::string_view data) {
  if (data.size() > INT_MAX) return nullptr;
  return Ptr<BIO>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

Ptr<BIO> write_bio() { return Ptr<BIO>(BIO_new(BIO_s_mem())); }

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace scepter::pki
