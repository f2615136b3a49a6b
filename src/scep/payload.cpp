#include "scep/payload.h"

#include <climits>
#include <cstddef>
#include <utility>

#include <openssl/asn1t.h>
#include <openssl/pkcs7.h>

#include "scep/cms_util.h"

namespace scepter::scep {
namespace {

// IssuerAndSubject has no OpenSSL type; OpenSSL's template machinery gives it a
// BER-tolerant decoder and a DER encoder.
struct ScepIssuerAndSubject {
  X509_NAME* issuer;
  X509_NAME* subject;
};

ASN1_SEQUENCE(ScepIssuerAndSubject) =
    {
        ASN1_SIMPLE(ScepIssuerAndSubject, issuer, X509_NAME),
        ASN1_SIMPLE(ScepIssuerAndSubject, subject, X509_NAME),
} static_ASN1_SEQUENCE_END(ScepIssuerAndSubject)

        struct IssuerAndSubjectFree {
  void operator()(ScepIssuerAndSubject* p) const {
    ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(p), ASN1_ITEM_rptr(ScepIssuerAndSubject));
  }
};

const unsigned char* begin(std::string_view der) {
  return reinterpret_cast<const unsigned char*>(der.data());
}

Status check_consumed(std::string_view der, const unsigned char* p, std::string_view what) {
  if (p != begin(der) + der.size()) {
    return invalid_argument("trailing bytes after the " + std::string(what));
  }
  return ok_status();
}

}  // namespace

Result<std::string> encode_issuer_and_subject(const X509_NAME* issuer, const X509_NAME* subject) {
  if (issuer == nullptr || subject == nullptr) {
    return fail(invalid_argument("IssuerAndSubject needs both names"));
  }
  // Borrowed pointers: only encoded, never freed through this struct.
  ScepIssuerAndSubject value{const_cast<X509_NAME*>(issuer), const_cast<X509_NAME*>(subject)};
  auto* v = reinterpret_cast<ASN1_VALUE*>(&value);
  int len = ASN1_item_i2d(v, nullptr, ASN1_ITEM_rptr(ScepIssuerAndSubject));
  if (len <= 0) return fail(pki::last_error("encoding IssuerAndSubject"));
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (ASN1_item_i2d(v, &p, ASN1_ITEM_rptr(ScepIssuerAndSubject)) != len) {
    return fail(pki::last_error("encoding IssuerAndSubject"));
  }
  return out;
}

Result<std::string> encode_issuer_and_serial(const X509_NAME* issuer, const ASN1_INTEGER* serial) {
  if (issuer == nullptr || serial == nullptr) {
    return fail(invalid_argument("IssuerAndSerialNumber needs a name and a serial"));
  }
  PKCS7_ISSUER_AND_SERIAL value{const_cast<X509_NAME*>(issuer), const_cast<ASN1_INTEGER*>(serial)};
  int len = i2d_PKCS7_ISSUER_AND_SERIAL(&value, nullptr);
  if (len <= 0) return fail(pki::last_error("encoding IssuerAndSerialNumber"));
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_PKCS7_ISSUER_AND_SERIAL(&value, &p) != len) {
    return fail(pki::last_error("encoding IssuerAndSerialNumber"));
  }
  return out;
}

Result<IssuerAndSubject> decode_issuer_and_subject(std::string_view der) {
  if (der.empty() || der.size() > LONG_MAX) return fail(invalid_argument("bad IssuerAndSubject"));
  const unsigned char* p = begin(der);
  std::unique_ptr<ScepIssuerAndSubject, IssuerAndSubjectFree> value(
      reinterpret_cast<ScepIssuerAndSubject*>(ASN1_item_d2i(
          nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(ScepIssuerAndSubject))));
  if (!value) return fail(pki::last_error(Code::kInvalidArgument, "not an IssuerAndSubject"));
  RETURN_IF_ERROR(check_consumed(der, p, "IssuerAndSubject"));
  IssuerAndSubject out;
  // Take the names out of the decoded struct; its destructor then frees only the shell.
  out.issuer.reset(std::exchange(value->issuer, nullptr));
  out.subject.reset(std::exchange(value->subject, nullptr));
  return out;
}

Result<IssuerAndSerial> decode_issuer_and_serial(std::string_view der) {
  if (der.empty() || der.size() > LONG_MAX) {
    return fail(invalid_argument("bad IssuerAndSerialNumber"));
  }
  const unsigned char* p = begin(der);
  detail::IssuerSerialPtr value(
      d2i_PKCS7_ISSUER_AND_SERIAL(nullptr, &p, static_cast<long>(der.size())));
  if (!value) {
    return fail(pki::last_error(Code::kInvalidArgument, "not an IssuerAndSerialNumber"));
  }
  RETURN_IF_ERROR(check_consumed(der, p, "IssuerAndSerialNumber"));
  IssuerAndSerial out;
  out.issuer.reset(std::exchange(value->issuer, nullptr));
  out.serial.reset(std::exchange(value->serial, nullptr));
  return out;
}

Result<pki::Ptr<X509_REQ>> decode_pkcs10(std::string_view der) {
  if (der.empty() || der.size() > LONG_MAX) return fail(invalid_argument("empty PKCS#10"));
  const unsigned char* p = begin(der);
  pki::Ptr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) return fail(pki::last_error(Code::kInvalidArgument, "not a PKCS#10 request"));
  RETURN_IF_ERROR(check_consumed(der, p, "PKCS#10 request"));
  return req;
}

}  // namespace scepter::scep
