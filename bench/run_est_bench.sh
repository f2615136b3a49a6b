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
# Then what an unauthenticated client can make the HTTPS listener do: `openssl s_time -new`
# (a full TLS 1.3 handshake per connection, one client, SECONDS_TLS seconds, default 5),
# with the CPU time scepterd spent on them (/proc), per handshake; and the same against
# `openssl s_server` (ECDSA P-256 too) on PORT+2, the library's own cost.
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
# The client certificate est_load authenticates with, through the one-time password.
est_client "$scepter" "$sock" "$https_port" "$work" est-bench-client

est_rates=() scep_rates=()
for round in $(seq 1 "$rounds"); do
  nice -n "$nice_level" "$build/bench/est_load" --port "$https_port" --cert "$work/client.pem" \
    --key "$work/client.key" --n "$n" --c "$conns" | tee "$work/est.$round.txt"
  est_rates+=("$(sed -n 's/^RESULT .* rate=\([0-9.]*\) .*/\1/p' "$work/est.$round.txt")")
  nice -n "$nice_level" "$build/bench/scep_load" --port "$port" --keys "$keys" --n "$n" \
    --c "$conns" --tag "est-bench-$round-$$" | tee "$work/scep.$round.txt"
  scep_rates+=("$(sed -n 's/^RESULT .* rate=\([0-9.]*\) .*/\1/p' "$work/scep.$round.txt")")
done
tls_secs=${SECONDS_TLS:-5}
# handshake_cost PID PORT: "COUNT RATE CPU_US" of `openssl s_time -new` against PORT, with
# the CPU time process PID spent per handshake.
handshake_cost() {
  local before after out count rate
  before=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
  out=$(openssl s_time -connect "127.0.0.1:$2" -new -time "$tls_secs" 2>/dev/null)
  after=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
  read -r count rate <<<"$(echo "$out" |
    sed -n 's/^\([0-9]*\) connections in .*; \([0-9.]*\) connections\/user sec.*/\1 \2/p' |
    head -1)"
  echo "$count $rate $(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $count" | bc)"
}
read -r hs_count hs_rate hs_cpu_us <<<"$(handshake_cost "$pid" "$https_port")"
echo "openssl s_time -new against scepterd: $hs_count handshakes, $hs_rate/s, CPU $hs_cpu_us us each"
# The same against `openssl s_server` with an ECDSA P-256 certificate: the library's own cost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/s.key" \
  -out "$work/s.pem" -subj /CN=127.0.0.1 -days 1 2>/dev/null
nice -n "$nice_level" openssl s_server -quiet -accept "$((port + 2))" -cert "$work/s.pem" \
  -key "$work/s.key" -naccept 1000000 </dev/null >/dev/null 2>&1 &
s_server_pid=$!
wait_listening "$((port + 2))"
read -r ref_count ref_rate ref_cpu_us <<<"$(handshake_cost "$s_server_pid" "$((port + 2))")"
stop_pids "$s_server_pid"
echo "openssl s_time -new against openssl s_server: $ref_count handshakes, $ref_rate/s, CPU $ref_cpu_us us each"
echo "== summary: N=$n c=$conns, $rounds rounds alternating"
echo "EST simpleenroll/s (TLS 1.3 keep-alive, P-256 requesters): ${est_rates[*]}"
echo "SCEP PKCSReq/s (keep-alive, RSA-2048 requesters): ${scep_rates[*]}"
echo "TLS handshakes (openssl s_time -new, one client): scepterd $hs_rate/s at $hs_cpu_us us CPU each; openssl s_server $ref_rate/s at $ref_cpu_us us"
echo "openssl speed rsa2048 signatures/s: one core $sign_one, all cores $sign_all"
