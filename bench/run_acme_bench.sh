#!/usr/bin/env bash
# ACME orders per second, http-01, at concurrency C (default 8): scepterd against Pebble
# in the same run, the two alternating for ROUNDS rounds (default 3) of SECONDS_ACME
# seconds each (default 10). Both resolve names through one unbound on 127.0.0.1
# (zone example.test, every name 127.0.0.1) and validate against acme_load's own http-01
# responder on 127.0.0.1:HTTP01_PORT:
#   - scepterd: a root CA "ca" (RSA-2048 key) with `grant auto acme`, ACME for
#     example.test, connections to 127.0.0.0/8 allowed, the resolver and the http-01
#     port above; the directory /acme/ca/directory on its HTTPS listener (`ip http
#     secure-port 0`: the port is read from `show ip http server status`), the TLS
#     certificate the CA issued scepterd;
#   - Pebble (Debian's pebble), PEBBLE_VA_NOSLEEP=1 (no artificial validation delay) and
#     PEBBLE_WFE_NONCEREJECT=0 (no random badNonce), a TLS certificate of a throwaway CA.
# acme_load (bench/acme_load.cpp) is given the server's PID and reports its CPU time
# per order. And the crypto limit of the same run: `openssl speed -seconds 3 ecdsap256
# rsa2048` (an order costs the server about ten ES256 JWS verifications, one P-256 CSR
# signature check and one certificate signature with the CA key). Usage:
#   bench/run_acme_bench.sh [BUILD_DIR]        (default build-bench)
# NICE (default 0) is the niceness of the servers and the load generator. PORT (default
# 18390): scepterd's HTTP; PORT+1 unbound; PORT+2 the http-01 responder (HTTP01_PORT);
# PORT+3 and PORT+4 Pebble's ACME and management listeners. ONLY=pebble or
# ONLY=scepterd runs one of the two. MAX_POLL_MS (default 50): the longest wait between
# two polls of an authorization or order (Retry-After is capped to it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=$(realpath "${1:-build-bench}")
rounds=${ROUNDS:-3}
secs=${SECONDS_ACME:-10}
conns=${C:-8}
port=${PORT:-18390}
dns_port=$((port + 1))
http01_port=${HTTP01_PORT:-$((port + 2))}
pebble_port=$((port + 3))
nice_level=${NICE:-0}
only=${ONLY:-}
max_poll_ms=${MAX_POLL_MS:-50}
scepter="$build/src/shell/scepter"
bench_workdir acme_bench
pebble_pid="" unbound_pid=""
trap 'stop_pids "$pid" "$pebble_pid" "$unbound_pid"; rm -rf "$work"' EXIT
if [ "$only" = pebble ]; then
  ninja -C "$build" -j2 acme_load >/dev/null
else
  ninja -C "$build" -j2 scepterd scepter acme_load >/dev/null
fi

print_machine "$work"
echo "pebble: $(dpkg-query -W -f '${Version}' pebble 2>/dev/null || echo unknown)," \
  "unbound: $(unbound -V 2>/dev/null | sed -n 's/^Version //p')"
speed=$(openssl speed -seconds 3 ecdsap256 rsa2048 2>/dev/null)
rsa_sign=$(echo "$speed" | awk '/^rsa 2048 bits/ { print $6 }')
ec_sign=$(echo "$speed" | awk '/^ *256 bits ecdsa/ { print $7 }')
ec_verify=$(echo "$speed" | awk '/^ *256 bits ecdsa/ { print $8 }')
echo "openssl speed (one core): rsa2048 sign/s $rsa_sign; ecdsap256 sign/s $ec_sign, verify/s $ec_verify"

# unbound: example.test and every name under it resolve to 127.0.0.1.
cat >"$work/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $dns_port
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: ""
  use-syslog: no
  logfile: "$work/unbound.log"
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "example.test." redirect
  local-data: "example.test. 60 IN A 127.0.0.1"
remote-control:
  control-enable: no
EOF
unbound -d -c "$work/unbound.conf" &
unbound_pid=$!
wait_listening "$dns_port"

if [ "$only" != pebble ]; then
  start_scepterd "$build" "$work/scepterd" "$nice_level"
  sock="$work/scepterd/s.sock"
  setup_ca "$scepter" "$sock" "$port" "$work/setup.txt"
  "$scepter" --socket "$sock" -c "configure terminal" -c "crypto pki server ca" \
    -c "grant auto acme" -c "acme allow dns example.test" -c "acme allow connect 127.0.0.0/8" \
    -c "acme resolver 127.0.0.1:$dns_port" -c "acme http-port $http01_port" -c "acme" -c exit \
    -c "ip http secure-port 0" -c "ip http secure-server" -c end >"$work/acme-setup.txt"
  https_port=""
  for _ in $(seq 1 300); do
    https_port=$("$scepter" --socket "$sock" -c "show ip http server status" |
      sed -n 's/^HTTP secure server port: \([0-9]*\)$/\1/p')
    [ -n "$https_port" ] && [ "$https_port" != 0 ] && break
    sleep 0.1
  done
  [ -n "$https_port" ] || {
    echo "scepterd's HTTPS listener did not start" >&2
    cat "$work/acme-setup.txt" >&2
    exit 1
  }
  openssl x509 -inform DER -in "$work/scepterd/nvram/ca#1CA.cer" -out "$work/scepterd-ca.pem"
  scepterd_dir="https://127.0.0.1:$https_port/acme/ca/directory"
  echo "scepterd directory: $scepterd_dir"
fi

if [ "$only" != scepterd ]; then
  # Pebble's TLS certificate for 127.0.0.1, from a throwaway CA.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=bench-pebble-ca -keyout "$work/pebble-ca.key" -out "$work/pebble-ca.pem" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$work/pebble.key" -out "$work/pebble.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$work/pebble.ext"
  openssl x509 -req -in "$work/pebble.csr" -CA "$work/pebble-ca.pem" -CAkey "$work/pebble-ca.key" \
    -CAcreateserial -days 1 -extfile "$work/pebble.ext" -out "$work/pebble.pem" 2>/dev/null
  cat >"$work/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$pebble_port",
    "managementListenAddress": "127.0.0.1:$((port + 4))",
    "certificate": "$work/pebble.pem",
    "privateKey": "$work/pebble.key",
    "httpPort": $http01_port,
    "tlsPort": $((port + 5)),
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 nice -n "$nice_level" pebble \
    -config "$work/pebble.json" -dnsserver "127.0.0.1:$dns_port" >"$work/pebble.log" 2>&1 &
  pebble_pid=$!
  wait_listening "$pebble_port"
  pebble_dir="https://127.0.0.1:$pebble_port/dir"
  echo "pebble directory: $pebble_dir"
fi

# run NAME DIRECTORY CACERT PID ROUND: one acme_load run; its output in work/NAME.ROUND.txt.
run() {
  echo "-- $1, round $5"
  nice -n "$nice_level" "$build/bench/acme_load" --directory "$2" --cacert "$3" \
    --concurrency "$conns" --seconds "$secs" --http-port "$http01_port" \
    --domain-suffix "r$5.$1.example.test" --server-pid "$4" --max-poll-ms "$max_poll_ms" |
    tee "$work/$1.$5.txt"
}
for round in $(seq 1 "$rounds"); do
  [ "$only" = pebble ] || run scepterd "$scepterd_dir" "$work/scepterd-ca.pem" "$pid" "$round"
  [ "$only" = scepterd ] || run pebble "$pebble_dir" "$work/pebble-ca.pem" "$pebble_pid" "$round"
done

# row NAME: the table row of NAME over its rounds (median (min-max) of each column).
row() {
  local rates=() p50=() p99=() cpu=() failed=() f
  for f in "$work/$1".*.txt; do
    rates+=("$(field rate "$f")")
    p50+=("$(field p50_ms "$f")")
    p99+=("$(field p99_ms "$f")")
    cpu+=("$(field server_cpu_ms_per_order "$f")")
    failed+=("$(field failed "$f")")
  done
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(median_range "${rates[@]}")" \
    "$(median_range "${p50[@]}")" "$(median_range "${p99[@]}")" "$(median_range "${cpu[@]}")" \
    "${failed[*]}"
}
echo "== summary: c=$conns, http-01, polls at most ${max_poll_ms} ms apart, $rounds rounds of ${secs} s alternating," \
  "median (min-max) over the rounds"
echo "| server | orders/s | p50 order ms | p99 order ms | server CPU ms/order | failed orders |"
echo "|---|---|---|---|---|---|"
[ "$only" = pebble ] || row scepterd
[ "$only" = scepterd ] || row pebble
echo "openssl speed (one core): rsa2048 sign/s $rsa_sign; ecdsap256 sign/s $ec_sign, verify/s $ec_verify"
