#!/usr/bin/env bash
# OCSP responders on 127.0.0.1, one after the other, ROUNDS rounds (default 3), all with an
# RSA-2048 CA key and the same load generator (`scep_load --mode ocsp`: C connections,
# default 16, each POSTing DER requests in turn for SECONDS_OCSP seconds, default 5):
#   - scepterd, cached: 64 requests without a nonce for 64 certificates it issued
#     (answers already signed, served from memory, keep-alive);
#   - scepterd, fresh: the same 64 serials with a nonce each (one signature per answer);
#   - `openssl ocsp` (index.txt of the same 64 serials; one process, HTTP/1.0, a connection
#     per request: what it speaks);
#   - `cfssl ocspserve` (golang-cfssl; the 64 responses pre-signed by `openssl ocsp`,
#     keep-alive).
# And the limit of the same run: `openssl speed rsa2048` signatures/s on one core and on
# all cores. Prints one line per run and a summary. Usage:
#   bench/run_ocsp_bench.sh [BUILD_DIR]        (default build-bench)
# NICE (default 0) is the niceness of every server and of the load generator. PORT
# (default 18190) and the two next ports. PIN=1 (root, two cores or more): every server on
# CPU 1 and the load generator on CPU 0, so that a responder is measured against the
# one-core signing limit without sharing its core; `openssl speed` then also runs on
# CPU 1 just before each fresh run, and each round prints the fresh rate against that
# limit. ONLY=scepterd skips the two peers.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=$(realpath "${1:-build-bench}")
rounds=${ROUNDS:-3}
secs=${SECONDS_OCSP:-5}
conns=${C:-16}
port=${PORT:-18190}
nice_level=${NICE:-0}
pin_server=() pin_load=()
if [ "${PIN:-0}" = 1 ]; then
  pin_server=(taskset -c 1)
  pin_load=(taskset -c 0)
fi
load="$build/bench/scep_load"
bench_workdir ocsp_bench
command -v cfssl >/dev/null || { echo "cfssl missing: apt-get install golang-cfssl" >&2; exit 1; }

print_machine "$work"
rsa_sign_rates
echo "openssl speed rsa2048: sign_one=$sign_one sign_all=$sign_all"

# scepterd: a CA in grant auto with `ocsp`, 64 certificates issued through SCEP.
start_scepterd "$build" "$work/scepterd" "$nice_level"
pin_scepterd() { for t in /proc/"$pid"/task/*; do taskset -p -c 1 "${t##*/}" >/dev/null; done; }
[ "${PIN:-0}" = 1 ] && pin_scepterd
setup_ca "$build/src/shell/scepter" "$work/scepterd/s.sock" "$port" "$work/setup.txt"
"$build/src/shell/scepter" --socket "$work/scepterd/s.sock" -c "configure terminal" \
  -c "crypto pki server ca" -c "ocsp" -c end >/dev/null
"$load" --port "$port" --mode enroll --n 64 --c 4 >"$work/enroll.txt"
openssl x509 -inform DER -in "$work/scepterd/nvram/ca#1CA.cer" -out "$work/ca.pem"
mkdir -p "$work/req" "$work/nonce"
for i in $(seq 2 65); do
  openssl ocsp -issuer "$work/ca.pem" -serial "$i" -no_nonce -reqout "$work/req/$i.der" >/dev/null
  openssl ocsp -issuer "$work/ca.pem" -serial "$i" -reqout "$work/nonce/$i.der" >/dev/null
done
[ "${PIN:-0}" = 1 ] && pin_scepterd  # the threads started since
cached_args=() nonce_args=()
for f in "$work"/req/*.der; do cached_args+=(--ocsp-request "$f"); done
for f in "$work"/nonce/*.der; do nonce_args+=(--ocsp-request "$f"); done

# openssl ocsp and cfssl: their own RSA-2048 CA, the same 64 serials good.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/peer.key" -out "$work/peer.pem" \
  -subj /CN=peer -days 30 2>/dev/null
: >"$work/index.txt"
mkdir -p "$work/peer_req"
for i in $(seq 2 65); do
  hex=$(printf '%02X' "$i")
  printf 'V\t301231235959Z\t\t%s\tunknown\t/CN=c%d\n' "$hex" "$i" >>"$work/index.txt"
  openssl ocsp -issuer "$work/peer.pem" -serial "$i" -no_nonce \
    -reqout "$work/peer_req/$i.der" >/dev/null
done
peer_args=()
: >"$work/responses.b64"
for i in $(seq 2 65); do
  peer_args+=(--ocsp-request "$work/peer_req/$i.der")
  openssl ocsp -index "$work/index.txt" -CA "$work/peer.pem" -rsigner "$work/peer.pem" \
    -rkey "$work/peer.key" -reqin "$work/peer_req/$i.der" -respout "$work/resp.der" \
    -nmin 60 >/dev/null 2>&1
  base64 -w0 "$work/resp.der" >>"$work/responses.b64"
  echo >>"$work/responses.b64"
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
declare -A best=()
run() {  # run NAME SERVER_PID PORT PATH ARGS...: one measured run (after a 1 s warm-up)
  local name=$1 spid=$2 p=$3 path=$4
  shift 4
  "${pin_load[@]}" nice -n "$nice_level" "$load" --port "$p" --mode ocsp --ocsp-path "$path" --c "$conns" \
    --seconds 1 "$@" >/dev/null
  local t0 t1 n rate
  t0=$(cpu_ticks "$spid")
  "${pin_load[@]}" nice -n "$nice_level" "$load" --port "$p" --mode ocsp --ocsp-path "$path" --c "$conns" \
    --seconds "$secs" "$@" >"$work/$name.out"
  t1=$(cpu_ticks "$spid")
  n=$(field requests "$work/$name.out")
  rate=$(field rate "$work/$name.out")
  cpu_us=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  echo "round=$round responder=$name c=$conns rate=$rate failed=$(field failed "$work/$name.out")" \
    "p50_ms=$(field p50_ms "$work/$name.out") p99_ms=$(field p99_ms "$work/$name.out")" \
    "server_cpu_us=$cpu_us"
  if [ -z "${best[$name]:-}" ] || [ "${rate%.*}" -gt "${best[$name]%.*}" ]; then
    best[$name]=$rate
  fi
}

shares=() cpu_shares=()
for round in $(seq 1 "$rounds"); do
  run scepterd-cached "$pid" "$port" /ocsp "${cached_args[@]}"
  if [ "${PIN:-0}" = 1 ]; then
    limit=$(taskset -c 1 nice -n "$nice_level" openssl speed -seconds 3 rsa2048 2>/dev/null |
      awk '/^rsa 2048 bits/ { print $6 }')
  fi
  run scepterd-fresh "$pid" "$port" /ocsp "${nonce_args[@]}"
  if [ "${PIN:-0}" = 1 ]; then
    rate=$(field rate "$work/scepterd-fresh.out")
    share=$(awk -v r="$rate" -v l="$limit" 'BEGIN { printf "%.1f", 100 * r / l }')
    # openssl speed counts signatures per second of its CPU time: the same for scepterd.
    cpu_share=$(awk -v c="$cpu_us" -v l="$limit" 'BEGIN { printf "%.1f", 100 * 1e6 / c / l }')
    shares+=("$share")
    cpu_shares+=("$cpu_share")
    echo "round=$round pinned: openssl speed rsa2048 on CPU 1 $limit/s, scepterd fresh" \
      "$rate/s = $share%, per CPU second $cpu_share%"
  fi
  [ "${ONLY:-}" = scepterd ] && continue
  "${pin_server[@]}" nice -n "$nice_level" openssl ocsp -index "$work/index.txt" -CA "$work/peer.pem" \
    -rsigner "$work/peer.pem" -rkey "$work/peer.key" -port $((port + 1)) -nmin 5 \
    >/dev/null 2>&1 &
  opid=$!
  wait_listening $((port + 1)) 50
  run openssl-ocsp "$opid" $((port + 1)) / "${peer_args[@]}"
  stop_pids "$opid"
  "${pin_server[@]}" nice -n "$nice_level" cfssl ocspserve -address 127.0.0.1 -port $((port + 2)) \
    -responses "$work/responses.b64" >/dev/null 2>&1 &
  cpid=$!
  wait_listening $((port + 2))
  run cfssl-ocspserve "$cpid" $((port + 2)) / "${peer_args[@]}"
  stop_pids "$cpid"
done
echo "SUMMARY best of $rounds: scepterd cached ${best[scepterd-cached]}/s," \
  "scepterd fresh ${best[scepterd-fresh]}/s ($(awk -v r="${best[scepterd-fresh]}" \
  -v l="$sign_all" 'BEGIN { printf "%.0f", 100 * r / l }')% of $sign_all RSA signatures/s on" \
  "$(nproc) cores, $(awk -v r="${best[scepterd-fresh]}" -v l="$sign_one" \
  'BEGIN { printf "%.0f", 100 * r / l }')% of $sign_one on one)," \
  "openssl ocsp ${best[openssl-ocsp]:-(not run)}/s, cfssl ocspserve ${best[cfssl-ocspserve]:-(not run)}/s"
if [ "${PIN:-0}" = 1 ]; then
  echo "PINNED fresh against the signing limit of its core, per round: median (min-max)" \
    "$(median_range "${shares[@]}")%; per CPU second $(median_range "${cpu_shares[@]}")%"
fi
