// The crypto limit of a PKCS#11 token, measured the way `openssl speed` measures the
// in-process one: RSA-2048 signatures (SHA-256, PKCS#1 v1.5) and PKCS#1 v1.5 decryptions
// of a 16-byte key (SCEP's unwrap) per second, with a key made on the token, from one
// thread and from THREADS threads at once (bench/run_token_bench.sh).
//
//   token_speed --module PATH --label TOKEN-LABEL --pin PIN [--seconds 3] [--threads 2]
//
// Prints "RESULT sign_1=... decrypt_1=... sign_all=... decrypt_all=..." (per second).
// The key is made under the label "token-speed" and deleted at the end.

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "pki/token.h"

namespace {

using Clock = std::chrono::steady_clock;

bool sign_once(EVP_PKEY* key) {
  static const unsigned char msg[] = "token speed";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[1024];
  std::size_t len = sizeof sig;
  const bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestSign(ctx, sig, &len, msg, sizeof msg) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool decrypt_once(EVP_PKEY* key, const std::vector<unsigned char>& wrapped) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  unsigned char out[512];
  std::size_t len = sizeof out;
  const bool ok = ctx != nullptr && EVP_PKEY_decrypt_init(ctx) == 1 &&
                  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
                  EVP_PKEY_decrypt(ctx, out, &len, wrapped.data(), wrapped.size()) == 1 &&
                  len == 16;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

// Operations per second of `op` run by `threads` threads for `seconds`.
template <typename Op>
double rate(int threads, double seconds, Op op) {
  std::atomic<long> done{0};
  std::atomic<bool> failed{false};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      long mine = 0;
      while (Clock::now() < end) {
        if (!op()) {
          failed = true;
          return;
        }
        ++mine;
      }
      done += mine;
    });
  }
  for (auto& t : pool) t.join();
  if (failed) {
    std::fprintf(stderr, "an operation failed\n");
    std::exit(1);
  }
  return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  scepter::pki::TokenSpec spec{.name = "bench", .module = "", .slot = {}, .label = "", .pin = ""};
  double seconds = 3;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--module") spec.module = argv[i + 1];
    if (arg == "--label") spec.label = argv[i + 1];
    if (arg == "--pin") spec.pin = argv[i + 1];
    if (arg == "--seconds") seconds = std::atof(argv[i + 1]);
    if (arg == "--threads") threads = std::atoi(argv[i + 1]);
  }
  auto token = scepter::pki::Token::open(spec);
  if (!token.has_value()) {
    std::fprintf(stderr, "%s\n", token.error().message().c_str());
    return 1;
  }
  (void)(*token)->remove("token-speed");
  auto key = (*token)->generate_rsa("token-speed", 2048);
  if (!key.has_value()) {
    std::fprintf(stderr, "%s\n", key.error().message().c_str());
    return 1;
  }
  // A content-encryption key wrapped to the token's public key, as a SCEP client does.
  std::vector<unsigned char> wrapped(256);
  {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key->evp(), nullptr);
    unsigned char cek[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    std::size_t len = wrapped.size();
    if (ctx == nullptr || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx, wrapped.data(), &len, cek, sizeof cek) != 1) {
      std::fprintf(stderr, "cannot wrap a key\n");
      return 1;
    }
    wrapped.resize(len);
    EVP_PKEY_CTX_free(ctx);
  }
  EVP_PKEY* k = key->evp();
  const double sign_1 = rate(1, seconds, [&] { return sign_once(k); });
  const double decrypt_1 = rate(1, seconds, [&] { return decrypt_once(k, wrapped); });
  const double sign_all = rate(threads, seconds, [&] { return sign_once(k); });
  const double decrypt_all = rate(threads, seconds, [&] { return decrypt_once(k, wrapped); });
  (void)(*token)->remove("token-speed");
  std::printf("RESULT sign_1=%.1f decrypt_1=%.1f sign_all=%.1f decrypt_all=%.1f threads=%d\n",
              sign_1, decrypt_1, sign_all, decrypt_all, threads);
  return 0;
}
