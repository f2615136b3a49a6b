#include "scep/cert_rep.h"

#include <climits>
#include <utility>

#include <openssl/x509.h>

#include "pki/key_metrics.h"
#include "pki/ptr.h"
#include "scep/cms_util.h"

namespace scepter::scep {
namespace {

std::string decimal(int value) { return std::to_string(value); }

// The degenerate SignedData inside a SUCCESS envelope.
Result<std::string> success_content(const CertRepParams& params) {
  if (params.certificates.empty() && params.crl_der.empty()) {
    return fail(invalid_argument("a SUCCESS CertRep needs a certificate or a CRL"));
  }
  std::vector<std::string_view> crls;
  if (!params.crl_der.empty()) crls.push_back(params.crl_der);
  auto content = detail::degenerate_der(
      std::vector<std::string_view>(params.certificates.begin(), params.certificates.end()), crls);
  if (!content.has_value() && !params.crl_der.empty()) {
    return fail(invalid_argument("CertRep CRL is not DER"));
  }
  return content;
}

}  // namespace

Result<std::string> encode_cert_rep(const CertRepParams& params) {
  const AttributeTypes& types = attribute_types();
  if (params.transaction_id.empty() || params.recipient_nonce.empty()) {
    return fail(invalid_argument("a CertRep echoes a transactionID and a senderNonce"));
  }

  std::string content;  // PENDING and FAILURE: an empty OCTET STRING
  if (params.status == PkiStatus::kSuccess) {
    if (!params.recipient) {
      return fail(invalid_argument("a SUCCESS CertRep needs the requester's certificate"));
    }
    ASSIGN_OR_RETURN(std::string inner, success_content(params));
    ASSIGN_OR_RETURN(content, detail::envelope(inner, params.recipient, params.cipher));
  }

  std::string sender_nonce = params.sender_nonce;
  if (sender_nonce.empty()) {
    ASSIGN_OR_RETURN(sender_nonce, detail::random_bytes(kNonceSize));
  }

  std::vector<detail::Attribute> attrs = {
      {types.message_type.obj, V_ASN1_PRINTABLESTRING,
       decimal(static_cast<int>(MessageType::kCertRep))},
      {types.pki_status.obj, V_ASN1_PRINTABLESTRING, decimal(static_cast<int>(params.status))},
      {types.transaction_id.obj, V_ASN1_PRINTABLESTRING, params.transaction_id},
      {types.sender_nonce.obj, V_ASN1_OCTET_STRING, std::move(sender_nonce)},
      {types.recipient_nonce.obj, V_ASN1_OCTET_STRING, params.recipient_nonce},
  };
  if (params.status == PkiStatus::kFailure) {
    attrs.push_back(
        {types.fail_info.obj, V_ASN1_PRINTABLESTRING, decimal(static_cast<int>(params.fail_info))});
    if (!params.fail_info_text.empty()) {
      attrs.push_back({types.fail_info_text.obj, V_ASN1_UTF8STRING, params.fail_info_text});
    }
  }

  detail::SignSpec spec;
  spec.cert = params.signer_cert;
  spec.key = params.signer_key;
  spec.digest = params.digest;
  spec.include_cert = params.include_signer_cert;
  spec.signing_time = params.signing_time;
  static metrics::Histogram& timing = pki::key_operation_histogram("sign", "SCEP reply");
  const metrics::ScopedTimer timed(timing);
  return detail::sign_data(content, spec, attrs);
}

Result<std::string> encode_degenerate_certs(const std::vector<X509*>& certs,
                                            const std::vector<X509_CRL*>& crls) {
  if (certs.empty() && crls.empty()) return fail(invalid_argument("nothing to put in the PKCS#7"));
  return detail::degenerate(certs, crls);
}

}  // namespace scepter::scep
