#include "pki/identity.h"

#include <algorithm>
#include <cctype>

#include <openssl/x509v3.h>

#include "pki/encoding.h"

namespace scepter::pki {
namespace {

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

std::string_view view(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s))};
}

bool equal_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  std::string_view raw = view(ip);
  if (raw.size() == 4) {
    std::string out;
    for (unsigned char b : raw) out += (out.empty() ? "" : ".") + std::to_string(b);
    return out;
  }
  // Any other length is shown in hex: IPv6 in full, nothing shortened, so that two
  // encodings of one address compare by their bytes.
  return hex_upper(raw);
}

std::string canonical(const GENERAL_NAME* gn) {
  int type = 0;
  void* value = GENERAL_NAME_get0_value(gn, &type);
  switch (type) {
    case GEN_DNS:
      return "DNS:" + std::string(view(static_cast<ASN1_IA5STRING*>(value)));
    case GEN_EMAIL:
      return "email:" + std::string(view(static_cast<ASN1_IA5STRING*>(value)));
    case GEN_URI:
      return "URI:" + std::string(view(static_cast<ASN1_IA5STRING*>(value)));
    case GEN_IPADD:
      return "IP:" + ip_text(static_cast<ASN1_OCTET_STRING*>(value));
    default: {
      unsigned char* der = nullptr;
      const int len = i2d_GENERAL_NAME(const_cast<GENERAL_NAME*>(gn), &der);
      std::string out = "other:" + std::to_string(type) + ":";
      if (len > 0) {
        out += hex_upper(std::string_view(reinterpret_cast<const char*>(der), len));
      }
      OPENSSL_free(der);
      return out;
    }
  }
}

}  // namespace

std::vector<std::string> alt_names_of(const X509_EXTENSION* ext) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(const_cast<X509_EXTENSION*>(ext))));
  if (!names) return {"invalid"};
  std::vector<std::string> out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    out.push_back(canonical(sk_GENERAL_NAME_value(names.get(), i)));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool same_name(const X509_NAME* a, const X509_NAME* b) {
  return a != nullptr && b != nullptr && X509_NAME_cmp(a, b) == 0;
}

bool name_has_attribute(const X509_NAME* name, int nid, std::string_view value) {
  if (name == nullptr) return false;
  for (int i = -1; (i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0;) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    if (data != nullptr && equal_ignore_case(view(data), value)) return true;
  }
  return false;
}

std::vector<std::string> alt_names(const Certificate& cert) {
  const int at = X509_get_ext_by_NID(cert.x509(), NID_subject_alt_name, -1);
  if (at < 0) return {};
  return alt_names_of(X509_get_ext(cert.x509(), at));
}

std::vector<std::string> requested_alt_names(const Csr& csr) {
  for (const auto& ext : csr.requested_extensions()) {
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext.get())) == NID_subject_alt_name) {
      return alt_names_of(ext.get());
    }
  }
  return {};
}

bool same_identity(const Csr& csr, const Certificate& cert) {
  return same_name(csr.subject(), cert.subject()) && requested_alt_names(csr) == alt_names(cert);
}

}  // namespace scepter::pki
