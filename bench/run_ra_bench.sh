#!/usr/bin/env bash
# SCEP enrolment through a scepterd RA (`mode ra`) against enrolment straight at its
# issuing CA, on this machine, with RSA-2048 keys and the same N pre-built PKCSReq
# messages per row.
#
#   bench/run_ra_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-bench (configured with -DCMAKE_BUILD_TYPE=Release). The
# environment tunes it: N (enrolments per row, default 1000), CONCURRENCY (default
# "1 4 16"), PORT (the root CA, default 18093), RA_PORT (the RA, default 18094), KEYS
# (requester keys, as in run_scep_bench.sh; default BUILD_DIR/bench/scep_load_keys.pem),
# NICE (niceness of both daemons and of the load generator, default 0).
#
# Every row starts from fresh NVRAMs: a root scepterd "ca" and an RA scepterd "myra"
# (hostname ra, trustpoint myra enrolled at the root, `mode ra`, `grant auto`), both
# running, both on 127.0.0.1. The root's operator grants the RA's certificate request;
# the RA's clock is moved on two minutes (`clock set`) so that its next poll, due after
# `enrollment retry period` (1 minute), comes at once. A "root" row then enrols straight at
# the root (`grant auto`); an "RA" row enrols at the RA, which grants by `grant auto`,
# re-signs the request and forwards it to the root (`grant ra-auto`), inside the client's
# request. The rows alternate (root, RA at each concurrency) so that both see the same
# machine. scep_load checks every answer: the RA's CertReps against the RA certificate,
# every issued certificate against the root. Prints the machine, `openssl speed rsa2048`,
# each run's output, errors and warnings of the daemons' logs, and a Markdown table for
# docs/performance.md. Cleans up processes and files on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-bench}
n=${N:-1000}
read -r -a levels <<<"${CONCURRENCY:-1 4 16}"
port=${PORT:-18093}
ra_port=${RA_PORT:-18094}
nice_level=${NICE:-0}
challenge=bench-challenge

case $build in /*) ;; *) build=$root/$build ;; esac
ninja -C "$build" -j2 scepterd scepter scep_load >/dev/null
keys=${KEYS:-$build/bench/scep_load_keys.pem}
scepterd_bin=$build/src/daemon/scepterd
scepter_bin=$build/src/shell/scepter
load=$build/bench/scep_load

work=$(mktemp -d "${TMPDIR:-/tmp}/ra_bench.XXXXXX")
root_pid=""
ra_pid=""
cleanup() {
  stop_pids "$ra_pid" "$root_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime + stime
hz=$(getconf CLK_TCK)

# start_daemon DIR: scepterd with an empty NVRAM in DIR; sets daemon_pid.
start_daemon() {
  mkdir -p "$1/nvram"
  SCEPTER_PASSWORD=bench-master nice -n "$nice_level" "$scepterd_bin" --nvram "$1/nvram" \
    --socket "$1/s.sock" --log "$1/scepterd.log" &
  daemon_pid=$!
  for _ in $(seq 1 100); do [ -S "$1/s.sock" ] && break; sleep 0.1; done
}

# wait_listener PORT URL: until scepterd listens on 127.0.0.1:PORT and URL answers 200.
# scepterd applies `ip http ...` once a second: wait one more period, so that no restart
# of the listener falls into a measurement.
wait_listener() {
  for _ in $(seq 1 100); do
    ss -Hltn "sport = :$1" | grep -q "127.0.0.1:$1" && break
    sleep 0.1
  done
  sleep 1.2
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $2" >&2
  exit 1
}

# wait_until WHAT SECONDS COMMAND...: until COMMAND succeeds.
wait_until() {
  local what=$1 tries=$(($2 * 5))
  shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" && return 0
    sleep 0.2
  done
  echo "timed out waiting for $what" >&2
  exit 1
}

root_cmd() { "$scepter_bin" --socket "$root_sock" "$@"; }
ra_cmd() { "$scepter_bin" --socket "$ra_sock" "$@"; }
ra_enabled() { ra_cmd -c "show crypto pki server myra" | grep -q "Status: enabled"; }
ra_request_id() {  # the RA's certificate request on the root, once it is listed
  root_cmd -c "crypto pki server ca info requests" |
    sed -n '/^RA certificate requests:/,/^Router/p' | awk '$2 == "pending" { print $1; exit }'
}

# start_pair NAME: a fresh root CA and a fresh RA enrolled at it, both serving SCEP.
start_pair() {
  local dir=$work/$1
  start_daemon "$dir/root"
  root_pid=$daemon_pid
  root_sock=$dir/root/s.sock
  root_cmd -c "configure terminal" -c "ip http server" -c "ip http port $port" \
    -c "ip http bind-address 127.0.0.1" -c "crypto pki server ca" -c "grant auto" \
    -c "database archive pkcs12 password 12345678" -c "no shutdown" -c yes \
    -c end >"$dir/root-setup.txt"
  wait_listener "$port" "http://127.0.0.1:$port/cgi-bin/pkiclient.exe?operation=GetCACert&message=ca"

  start_daemon "$dir/ra"
  ra_pid=$daemon_pid
  ra_sock=$dir/ra/s.sock
  ra_cmd -c "configure terminal" -c "hostname ra" -c "ip http server" -c "ip http port $ra_port" \
    -c "ip http bind-address 127.0.0.1" -c "crypto pki trustpoint myra" \
    -c "enrollment url http://127.0.0.1:$port" -c "subject-name cn=myra, ou=ioscs RA" -c exit \
    -c "crypto pki server myra" -c "mode ra" -c "grant auto" -c "no shutdown" -c yes \
    -c end >"$dir/ra-setup.txt"
  grep -q "Certificate request sent" "$dir/ra-setup.txt" || {
    cat "$dir/ra-setup.txt" >&2
    exit 1
  }
  # The root's operator grants the RA certificate (grant auto does not cover it).
  local id=""
  for _ in $(seq 1 50); do
    id=$(ra_request_id)
    [ -n "$id" ] && break
    sleep 0.2
  done
  [ -n "$id" ] || { echo "the RA's request did not reach the root" >&2; exit 1; }
  root_cmd -c "crypto pki server ca grant $id" >/dev/null
  # The RA asks again after `enrollment retry period` (1 minute): move its clock on.
  ra_cmd -c "clock set $(date -u -d '+2 min' '+%H:%M:%S %-d %b %Y')" >/dev/null
  wait_until "the RA enabled" 30 ra_enabled
  wait_listener "$ra_port" \
    "http://127.0.0.1:$ra_port/cgi-bin/pkiclient.exe?operation=GetCACert&message=myra"
}

# Stops both daemons, then prints what they logged above level info.
stop_pair() {
  local dir=$work/$1 d pid
  for pid in "$ra_pid" "$root_pid"; do
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
  ra_pid=""
  root_pid=""
  for d in root ra; do
    echo "$d log, lines above info (count, level and message, numbers folded):"
    awk '$2 != "info" && $2 != "debug" { $1 = ""; print }' "$dir/$d/scepterd.log" |
      sed 's/[0-9]\{1,\}/N/g' | sort | uniq -c | sort -rn | head -8
  done
}

echo "== machine"
print_machine "$work"
echo "load average before: $(loadavg)"
echo
echo "== openssl speed -seconds 3 rsa2048 (one core)"
nice -n "$nice_level" openssl speed -seconds 3 rsa2048 2>/dev/null | tee "$work/speed.txt" |
  tail -2
speed=$(awk '/^rsa 2048 bits/ { print $(NF - 1) " sign/s, " $NF " verify/s" }' "$work/speed.txt")
echo "rsa2048: $speed"

rows=()

# run_row TARGET C: one row on a fresh pair, TARGET root or ra.
run_row() {
  local target=$1 c=$2 name=$1.c$2 out load1
  local args=(--port "$port" --label ca)
  echo
  echo "== setting up a root CA and an RA for row $name"
  start_pair "$name"
  if [ "$target" = ra ]; then
    # The root grants at once what its RA forwards; the RA grants every request.
    root_cmd -c "configure terminal" -c "crypto pki server ca" -c "grant ra-auto" -c yes \
      -c end >/dev/null
    args=(--port "$ra_port" --label myra)
  fi
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo "== $target, c=$c (load average $(loadavg))"
  out=$work/$name.txt
  # The daemons' CPU over the run (scep_load prepares and checks without them).
  local root0 ra0 root_ms ra_ms
  root0=$(cpu_ticks "$root_pid")
  ra0=$(cpu_ticks "$ra_pid")
  nice -n "$nice_level" "$load" --keys "$keys" --n "$n" "${args[@]}" --c "$c" --tag "$name" \
    --challenge "$challenge" | tee "$out"
  root_ms=$(awk -v t="$(($(cpu_ticks "$root_pid") - root0))" -v hz="$hz" -v n="$n" \
    'BEGIN { printf "%.2f", t * 1000 / hz / n }')
  ra_ms=$(awk -v t="$(($(cpu_ticks "$ra_pid") - ra0))" -v hz="$hz" -v n="$n" \
    'BEGIN { printf "%.2f", t * 1000 / hz / n }')
  echo "CPU per enrolment: root $root_ms ms, RA $ra_ms ms"
  stop_pair "$name"
  local bad=$(($(field http_errors "$out") + $(field bad_replies "$out")))
  local unverified=$(($(field unverified "$out") + $(field wrong_key "$out")))
  local label="straight at the root"
  [ "$target" = ra ] && label="through the RA"
  rows+=("| $label | $c | $load1 | $(field rate "$out") | $(field p50_ms "$out") | \
$(field p99_ms "$out") | $(field success "$out") | $(field pending "$out") | \
$(field failure "$out") | $bad | $(field dup_serials "$out") | $unverified | $root_ms | $ra_ms |")
}

for c in "${levels[@]}"; do
  run_row root "$c"
  run_row ra "$c"
done

echo
echo "load average after: $(loadavg)"
echo "openssl speed rsa2048: $speed"
echo
echo "== enrolments (N=$n per row; RSA-2048 keys, AES-128-CBC, SHA-256, POST, keep-alive)"
echo "| enrolment | c | load (1 min) | enrolments/s | p50 ms | p99 ms | SUCCESS | PENDING |" \
  "FAILURE | HTTP errors / bad replies | duplicate serials | certificates not verifying |" \
  "root CPU ms / enrolment | RA CPU ms / enrolment |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
