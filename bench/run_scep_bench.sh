#!/usr/bin/env bash
# SCEP benchmark: enrolments per second and GetCACaps/GetCACert requests per second of
# scepterd and of micromdm's scepserver (Debian package `scep`), in one run, on this
# machine, with RSA-2048 CA keys and the same N pre-built PKCSReq messages per row, against
# the limit the RSA operations set on this machine, measured in the same run (`openssl
# speed -seconds 3 rsa2048` on one core and on all cores; limit = sign/s / 3, one core per
# connection up to all cores). The two servers alternate row by row (same concurrency,
# same N, same keys), for ROUNDS rounds; the summary gives medians and ranges.
#
#   bench/run_scep_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-bench (configured with -DCMAKE_BUILD_TYPE=Release). The
# environment tunes it: N (enrolments per row, default 2000), CONCURRENCY (default
# "1 4 16"), ROUNDS (default 3), OTP_N (enrolments of the one-time-password row, default
# 200; run once, in the first round), SECONDS_GET
# (length of each GetCACaps/GetCACert run, default 5), PORT (scepterd, default 18090),
# MDM_PORT (scepserver, default 18091), KEYS (see below), NICE (niceness of both servers
# and of the load generator, default 0; a negative value such as -10 keeps builds that
# other people run on a shared machine from skewing the numbers).
#
# Every enrolment row starts from an empty CA (a fresh scepterd NVRAM, a fresh scepserver
# depot), so all rows see the same database size. scepterd listens on 127.0.0.1 only.
# scepserver cannot be told to listen on loopback alone, so it runs in a network namespace
# that has nothing but `lo`, and its load generator runs in the same namespace. The N
# requester keys (RSA-2048) are generated once, before any clock starts, and kept in KEYS
# (default BUILD_DIR/bench/scep_load_keys.pem) for later runs; every row uses the same
# keys with its own transactionIDs and subjects. Prints the machine, each tool's output
# and Markdown tables for docs/performance.md. Cleans up processes, namespace and files
# on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-bench}
n=${N:-2000}
read -r -a levels <<<"${CONCURRENCY:-1 4 16}"
rounds=${ROUNDS:-3}
otp_n=${OTP_N:-200}
get_seconds=${SECONDS_GET:-5}
port=${PORT:-18090}
mdm_port=${MDM_PORT:-18091}
nice_level=${NICE:-0}
ns=scepbench
challenge=bench-challenge

case $build in /*) ;; *) build=$root/$build ;; esac
ninja -C "$build" -j2 scepterd scepter scep_load >/dev/null
keys=${KEYS:-$build/bench/scep_load_keys.pem}
scepterd_bin=$build/src/daemon/scepterd
scepter_bin=$build/src/shell/scepter
load=$build/bench/scep_load
command -v scepserver >/dev/null || { echo "scepserver missing: apt-get install scep" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/scep_bench.XXXXXX")
scepterd_pid=""
mdm_pid=""
cleanup() {
  stop_pids "$scepterd_pid" "$mdm_pid"
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


wait_http() {  # wait_http URL [netns]: until the URL answers 200
  for _ in $(seq 1 200); do
    if [ -n "${2:-}" ]; then
      ip netns exec "$2" curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    else
      curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    fi
    sleep 0.1
  done
  echo "no answer from $1" >&2
  exit 1
}

# scepterd with an empty NVRAM, one RSA-2048 CA "ca", grant auto, listening on 127.0.0.1.
start_scepterd() {
  local dir=$work/scepterd.$1
  mkdir -p "$dir/nvram"
  SCEPTER_PASSWORD=bench-master nice -n "$nice_level" "$scepterd_bin" --nvram "$dir/nvram" \
    --socket "$dir/s.sock" --log "$dir/scepterd.log" &
  scepterd_pid=$!
  wait_socket "$dir/s.sock"
  sock=$dir/s.sock
  # scepterd applies `ip http ...` once a second: wait for the final listener, bound to
  # 127.0.0.1, and for one more period, so that no restart of it falls into a measurement.
  setup_ca "$scepter_bin" "$sock" "$port" "$dir/setup.txt"
  sleep 1.2
  wait_http "http://127.0.0.1:$port/cgi-bin/pkiclient.exe?operation=GetCACert&message=ca"
}
stop_scepterd() {
  kill "$scepterd_pid"
  wait "$scepterd_pid" 2>/dev/null || true
  scepterd_pid=""
}
scepterd_cmd() { "$scepter_bin" --socket "$sock" "$@"; }

# scepserver with a fresh RSA-2048 CA in the namespace, challenge password required.
start_mdm() {
  local dir=$work/mdm.$1
  mkdir -p "$dir"
  (cd "$dir" && scepserver ca -init -depot depot -keySize 2048 >/dev/null 2>&1)
  nice -n "$nice_level" ip netns exec "$ns" scepserver -depot "$dir/depot" -port "$mdm_port" \
    -challenge "$challenge" >"$dir/scepserver.log" 2>&1 &
  mdm_pid=$!
  wait_http "http://127.0.0.1:$mdm_port/scep?operation=GetCACaps" "$ns"
}
stop_mdm() {
  kill "$mdm_pid"
  wait "$mdm_pid" 2>/dev/null || true
  mdm_pid=""
  echo "scepserver errors logged (count, message):"
  sed -n 's/.*msg="\([^"]*\)" err="\([^"]*\)".*/\1: \2/p' "$work/mdm.$1/scepserver.log" |
    sed 's/[0-9]\{1,\}/N/g' | sort | uniq -c | sort -rn | head -5
}

echo "== machine"
print_machine "$work"
echo "scepserver: $(scepserver -version 2>&1 | head -1)"
echo "load average before: $(loadavg)"

ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
echo "namespace $ns: $(ip netns exec "$ns" ip -o link show | awk -F': ' '{ printf "%s ", $2 }')"

echo
echo "== the limit: openssl speed -seconds 3 rsa2048 (load average $(loadavg))"
rsa_sign_rates
echo "RSA-2048 sign/s: $sign_one on one core, $sign_all on all $(nproc) cores"
for c in "${levels[@]}"; do echo "limit at c=$c: $(enrol_limit "$c") enrolments/s"; done


enrol_rows=()
get_rows=()
declare -A rates  # "SERVER c=C" -> the POST rates of the rounds
declare -A unfair  # "SERVER c=C" -> yes when a round had a FAILURE, an error or a duplicate
# flawed RESULT_FILE: true when the row had a FAILURE, an HTTP error or bad reply, a
# duplicate serial or a certificate that does not verify: its rate is not comparable.
flawed() {
  local f=$1
  [ $(($(field failure "$f") + $(field http_errors "$f") + $(field bad_replies "$f") +
    $(field dup_serials "$f") + $(field unverified "$f") + $(field wrong_key "$f"))) -gt 0 ]
}

# add_row SERVER ROWNAME LOAD RESULT_FILE [C]: one row of the enrolment table (with C, the
# fraction of the limit at that concurrency)
add_row() {
  local f=$4 c=${5:-} share="-"
  local bad=$(($(field http_errors "$f") + $(field bad_replies "$f")))
  local unverified=$(($(field unverified "$f") + $(field wrong_key "$f")))
  if [ -n "$c" ]; then
    share=$(awk -v r="$(field rate "$f")" -v l="$(enrol_limit "$c")" \
      'BEGIN { printf "%.0f%%", 100 * r / l }')
  fi
  enrol_rows+=("| $1 | $2 | $3 | $(field rate "$f") | $share | $(field p50_ms "$f") | \
$(field p99_ms "$f") | $(field success "$f") | $(field pending "$f") | $(field failure "$f") | \
$bad | $(field dup_serials "$f") | $unverified |")
}

# run_enrol SERVER ROWNAME OUT NETNS C scep_load-args...: one enrolment row at
# concurrency C (empty: no fraction of the limit, as for the manual-grant rows)
run_enrol() {
  local server=$1 name=$2 out=$3 netns=$4 c=$5 load1
  shift 5
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo
  echo "== $server: $name (load average $(loadavg))"
  if [ -n "$netns" ]; then
    nice -n "$nice_level" ip netns exec "$netns" "$load" --keys "$keys" --n "$n" "$@" | tee "$out"
  else
    nice -n "$nice_level" "$load" --keys "$keys" --n "$n" "$@" | tee "$out"
  fi
  add_row "$server" "$name" "$load1" "$out" "$c"
}

# run_get SERVER OPERATION URL_BASE PORT PATH [netns]: scep_load and wrk, c=16
run_get() {
  local server=$1 op=$2 p=$3 path=$4 netns=${5:-}
  local mode out=$work/get.$server.$op.txt wout=$work/wrk.$server.$op.txt
  mode=$(echo "$op" | tr '[:upper:]' '[:lower:]')
  local url="http://127.0.0.1:$p$path?operation=$op&message=ca"
  local prefix=(nice -n "$nice_level")
  [ -n "$netns" ] && prefix+=(ip netns exec "$netns")
  echo
  echo "== $server: $op, keep-alive (load average $(loadavg))"
  "${prefix[@]}" "$load" --port "$p" --path "$path" --mode "$mode" --c 16 \
    --seconds "$get_seconds" | tee "$out"
  "${prefix[@]}" wrk -t2 -c16 -d"${get_seconds}s" --latency "$url" | tee "$wout"
  local wrk_rate
  wrk_rate=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$wout")
  local wrk_bad
  wrk_bad=$(awk '/Non-2xx|Socket errors/ { print }' "$wout" | tr '\n' ' ')
  get_rows+=("| $server | $op | $(field rate "$out") (p99 $(field p99_ms "$out") ms, \
failed $(field failed "$out")) | $wrk_rate ${wrk_bad:+($wrk_bad)} |")
}

# ---- both servers, alternately: per round and concurrency, scepterd then scepserver ----
for round in $(seq 1 "$rounds"); do
  for c in "${levels[@]}"; do
    first_row=""
    if [ "$round" = 1 ]; then first_row=yes; fi
    start_scepterd "r$round.c$c"
    if [ -n "$first_row" ] && [ "$c" = "${levels[0]}" ]; then
      run_get scepterd GetCACaps "$port" /cgi-bin/pkiclient.exe
      run_get scepterd GetCACert "$port" /cgi-bin/pkiclient.exe
    fi
    run_enrol scepterd "round $round, c=$c POST" "$work/scepterd.r$round.c$c.txt" "" "$c" \
      --port "$port" --c "$c" --tag "s$round.$c" --challenge "$challenge"
    rates["scepterd c=$c"]+="$(field rate "$work/scepterd.r$round.c$c.txt") "
    flawed "$work/scepterd.r$round.c$c.txt" && unfair["scepterd c=$c"]=yes
    if [ -n "$first_row" ] && [ "$c" = "${levels[-1]}" ]; then
      run_enrol scepterd "c=$c GET" "$work/scepterd.get.txt" "" "$c" \
        --port "$port" --c "$c" --tag "g$c" --challenge "$challenge" --get
      # Manual grant: every request carries a challenge password that is not the live
      # one-time password, so each is stored and answered PENDING (room made for all N:
      # by default the policy refuses new requests once 1000 wait).
      scepterd_cmd -c "configure terminal" -c "crypto pki server ca" -c "no grant auto" \
        -c "limit pending-requests $((n + 1000))" -c end >/dev/null
      run_enrol scepterd "c=$c manual, wrong password (PENDING)" "$work/scepterd.pending.txt" \
        "" "" --port "$port" --c "$c" --tag "p$c" --challenge "$challenge"
      # Manual grant with a fresh one-time password per request, one at a time.
      load1=$(cut -d' ' -f1 /proc/loadavg)
      echo
      echo "== scepterd: one-time passwords, $otp_n enrolments (load average $(loadavg))"
      nice -n "$nice_level" "$load" --keys "$keys" --n "$otp_n" --port "$port" --mode otp \
        --tag "o" --control-socket "$sock" | tee "$work/scepterd.otp.txt"
      add_row scepterd "c=1 manual, one-time password per request (password generate + CSR + \
PKCSReq in the clock), N=$otp_n" "$load1" "$work/scepterd.otp.txt"
    fi
    stop_scepterd

    start_mdm "r$round.c$c"
    if [ -n "$first_row" ] && [ "$c" = "${levels[0]}" ]; then
      run_get scepserver GetCACaps "$mdm_port" /scep "$ns"
      run_get scepserver GetCACert "$mdm_port" /scep "$ns"
    fi
    run_enrol scepserver "round $round, c=$c POST" "$work/mdm.r$round.c$c.txt" "$ns" "$c" \
      --port "$mdm_port" --path /scep --c "$c" --tag "m$round.$c" --challenge "$challenge"
    rates["scepserver c=$c"]+="$(field rate "$work/mdm.r$round.c$c.txt") "
    flawed "$work/mdm.r$round.c$c.txt" && unfair["scepserver c=$c"]=yes
    stop_mdm "r$round.c$c"
  done
done

echo
echo "load average after: $(loadavg)"
echo
echo "== the limit: RSA-2048 sign/s $sign_one (one core), $sign_all (all $(nproc) cores)"
echo
echo "== enrolments, POST, $rounds rounds alternating (median (range) enrolments/s; share of the limit)"
echo "| concurrency | limit | scepterd | share | scepserver | share |"
echo "|---|---|---|---|---|---|"
for c in "${levels[@]}"; do
  read -r -a s_rates <<<"${rates["scepterd c=$c"]}"
  read -r -a m_rates <<<"${rates["scepserver c=$c"]}"
  limit=$(enrol_limit "$c")
  cells=""
  for server in scepterd scepserver; do
    if [ "$server" = scepterd ]; then sum=$(median_range "${s_rates[@]}"); else
      sum=$(median_range "${m_rates[@]}")
    fi
    share=$(awk -v r="${sum%% *}" -v l="$limit" 'BEGIN { printf "%.0f%%", 100 * r / l }')
    if [ -n "${unfair["$server c=$c"]:-}" ]; then
      sum="not comparable: FAILUREs, errors or duplicate serials (rate $sum)"
      share="-"
    fi
    cells+=" $sum | $share |"
  done
  echo "| c=$c | $limit |$cells"
done
echo
echo "== enrolments, every row (N=$n per row; RSA-2048 requester keys, AES-128-CBC, SHA-256, keep-alive)"
echo "| server | run | load (1 min) | enrolments/s | of the limit | p50 ms | p99 ms | SUCCESS |" \
  "PENDING | FAILURE | HTTP errors / bad replies | duplicate serials | certificates not verifying |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${enrol_rows[@]}"
echo
echo "== GetCACaps / GetCACert, 16 keep-alive connections, ${get_seconds} s each (requests/s)"
echo "| server | request | scep_load | wrk -t2 -c16 |"
echo "|---|---|---|---|"
printf '%s\n' "${get_rows[@]}"
