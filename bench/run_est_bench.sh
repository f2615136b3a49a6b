#!/usr/bin/env bash
# EST simpleenroll against SCEP PKCSReq on one scepterd (a root CA "ca" in grant auto,
# RSA-2048 CA key, `est`, HTTPS on PORT+1 with the certificate the CA issues scepterd), the
# two alternating for ROUNDS rounds (default 3), N requests each (default 2000) on C
# keep-alive connections (default 16):
#   - est_load: N PKCS#10 for new ECDSA P-256 keys, POSTed to /.well-known/est/simpleenroll
#     over TLS 1.3, authenticated by a client certificate of the CA (obtained first with a
#     one-time password); a request for another identity than the client certificate's,
#     which `grant auto` issues;
#   - scep_load --mode enroll: N PKCSReq of RSA-2048 requester keys (KEYS, default
#     BUILD_DIR/bench/scep_load_keys.pem, made once and kept), AES-128-CBC, SHA-256.
# And the limit of the same run: `openssl speed rsa2048` on one core and on all. An EST
# enrolment costs the server one RSA signature (the certificate); a SCEP one three
# private-key operations (unwrap, certificate, CertRep). Usage:
#   bench/run_est_bench.sh [BUILD_DIR]        (default build-bench)
# NICE (default 0) is the niceness of scepterd and the load generators. PORT (default
# 18290) and PORT+1.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=$(realpath "${1:-build-bench}")
rounds=${ROUNDS:-3}
n=${N:-2000}
conns=${C:-16}
port=${PORT:-18290}
https_port=$((port + 1))
nice_level=${NICE:-0}
keys=${KEYS:-$build/bench/scep_load_keys.pem}
scepter="$build/src/shell/scepter"
bench_workdir est_bench
ninja -C "$build" -j2 scepterd scepter scep_load est_load >/dev/null

print_machine "$work"
rsa_sign_rates
echo "openssl speed rsa2048: sign_one=$sign_one sign_all=$sign_all"

start_scepterd "$build" "$work/scepterd" "$nice_level"
sock="$work/scepterd/s.sock"
setup_ca "$scepter" "$sock" "$port" "$work/setup.txt"
"$scepter" --socket "$sock" -c "configure terminal" -c "crypto pki server ca" -c "est" \
  -c exit -c "ip http secure-port $https_port" -c "ip http secure-server" -c end >/dev/null
wait_listening "$https_port" 300
openssl x509 -inform DER -in "$work/scepterd/nvram/ca#1CA.cer" -out "$work/ca.pem"

# The client certificate est_load authenticates with, through the one-time password.
password=$("$scepter" --socket "$sock" -c "crypto pki server ca password generate" |
  sed -n 's/.*password: \([^ ]*\).*/\1/p')
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/client.key" \
  -subj /CN=est-bench-client -outform DER 2>/dev/null | base64 -w0 >"$work/client.b64"
curl -fsS --cacert "$work/ca.pem" -u "bench:$password" -H "Content-Type: application/pkcs10" \
  --data-binary "@$work/client.b64" "https://127.0.0.1:$https_port/.well-known/est/simpleenroll" |
  base64 -d | openssl pkcs7 -inform DER -print_certs -out "$work/client.pem"

est_rates=() scep_rates=()
for round in $(seq 1 "$rounds"); do
  nice -n "$nice_level" "$build/bench/est_load" --port "$https_port" --cert "$work/client.pem" \
    --key "$work/client.key" --n "$n" --c "$conns" | tee "$work/est.$round.txt"
  est_rates+=("$(sed -n 's/^RESULT .* rate=\([0-9.]*\) .*/\1/p' "$work/est.$round.txt")")
  nice -n "$nice_level" "$build/bench/scep_load" --port "$port" --keys "$keys" --n "$n" \
    --c "$conns" --tag "est-bench-$round-$$" | tee "$work/scep.$round.txt"
  scep_rates+=("$(sed -n 's/^RESULT .* rate=\([0-9.]*\) .*/\1/p' "$work/scep.$round.txt")")
done
echo "== summary: N=$n c=$conns, $rounds rounds alternating"
echo "EST simpleenroll/s (TLS 1.3 keep-alive, P-256 requesters): ${est_rates[*]}"
echo "SCEP PKCSReq/s (keep-alive, RSA-2048 requesters): ${scep_rates[*]}"
echo "openssl speed rsa2048 signatures/s: one core $sign_one, all cores $sign_all"
