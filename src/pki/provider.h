#pragma once
// OpenSSL providers, for pki/ and scep/ (single-DES SCEP envelopes).

namespace scepter::pki {

// Makes the algorithms of OpenSSL's legacy provider (single DES, RC2) available next to
// the default ones, for reading and writing old formats: DES-encrypted PEM keys (IOS
// `crypto key export ... pem des`) and PKCS#12 files from old exporters (RC2-40).
// Loads once per process and keeps the fallback to the default provider. Returns false
// when the legacy module is not installed. Thread-safe.
bool load_legacy_provider();

}  // namespace scepter::pki
