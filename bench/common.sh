# shellcheck shell=bash
# Helpers shared by the bench/run_*_bench.sh scripts; sourced, not run.

# field NAME FILE: the last value of NAME=VALUE in FILE (scep_load's summary lines).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2" | tail -1; }

# The 1, 5 and 15 minute load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# print_machine DIR: what the machine is, for the record (DIR: where the databases live).
print_machine() {
  echo "nproc: $(nproc)"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "ram: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "openssl: $(openssl version)"
  echo "filesystem of $1: $(df -T "$1" | awk 'NR == 2 { print $2 " on " $1 }')"
}

# stop_pids PID...: ends each process that is given (empty ones are skipped) and reaps it.
stop_pids() {
  local pid
  for pid in "$@"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}

# rsa_sign_rates: measures RSA-2048 private-key operations with `openssl speed -seconds 3`,
# on one core and on all cores (-multi nproc), and sets sign_one and sign_all (per second).
rsa_sign_rates() {
  sign_one=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $6 }')
  sign_all=$(openssl speed -seconds 3 -multi "$(nproc)" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ { print $6 }')
}

# enrol_limit C: the enrolments/s the RSA operations alone allow at concurrency C (three
# private-key operations per enrolment: unwrap, sign the certificate, sign the CertRep);
# all cores from C >= nproc, one core per connection below.
enrol_limit() {
  local c=$1 cores
  cores=$(nproc)
  if [ "$c" -ge "$cores" ]; then
    awk -v s="$sign_all" 'BEGIN { printf "%.0f", s / 3 }'
  else
    awk -v s="$sign_one" -v c="$c" 'BEGIN { printf "%.0f", c * s / 3 }'
  fi
}

# median_range V...: "median (min-max)" of the values.
median_range() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f (%.1f-%.1f)", m, v[1], v[NR] }'
}

# wait_socket PATH [TRIES]: until the Unix socket PATH exists (TRIES × 0.1 s, default 100).
wait_socket() {
  for _ in $(seq 1 "${2:-100}"); do
    [ -S "$1" ] && return 0
    sleep 0.1
  done
}

# wait_listening PORT [TRIES]: until something listens on PORT (any address), TRIES x 0.1 s
# (default 100).
wait_listening() {
  for _ in $(seq 1 "${2:-100}"); do
    ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    sleep 0.1
  done
}

# start_scepterd BUILD DIR NICE: scepterd of BUILD on a fresh NVRAM in DIR (socket
# DIR/s.sock, log DIR/log) at niceness NICE, in the background; sets `pid` and returns
# once the control socket exists.
start_scepterd() {
  mkdir -p "$2/nvram"
  SCEPTER_PASSWORD=bench-master nice -n "$3" "$1/src/daemon/scepterd" --nvram "$2/nvram" \
    --socket "$2/s.sock" --log "$2/log" &
  pid=$!
  wait_socket "$2/s.sock"
}

# setup_ca SCEPTER SOCKET PORT OUT [TRIES]: through the shell, the HTTP server on
# 127.0.0.1:PORT and a root CA "ca" in grant auto (RSA-2048, archive password 12345678);
# the shell's output goes to OUT. Then waits until the listener is bound to 127.0.0.1
# (scepterd applies `ip http ...` once a second; TRIES × 0.1 s, default 100).
setup_ca() {
  "$1" --socket "$2" -c "configure terminal" -c "ip http server" -c "ip http port $3" \
    -c "ip http bind-address 127.0.0.1" -c "crypto pki server ca" -c "grant auto" \
    -c "database archive pkcs12 password 12345678" -c "no shutdown" -c yes -c end >"$4"
  for _ in $(seq 1 "${5:-100}"); do
    ss -Hltn "sport = :$3" | grep -q "127.0.0.1:$3" && return 0
    sleep 0.1
  done
}

# bench_workdir NAME: sets `work` to a fresh directory under TMPDIR and `pid` to empty, and
# arranges that on exit the process in `pid` (the server under test, when one runs) is
# stopped and `work` removed.
bench_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  pid=""
  trap 'stop_pids "$pid"; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
}

# est_client SCEPTER SOCK HTTPS_PORT DIR CN: a client certificate of CA "ca" for CN,
# enrolled over EST with a one-time password: DIR/ca.pem (the CA certificate, from
# scepterd's NVRAM beside SOCK), DIR/client.key and DIR/client.pem.
est_client() {
  local nvram password
  nvram=$(dirname "$2")/nvram
  openssl x509 -inform DER -in "$nvram/ca#1CA.cer" -out "$4/ca.pem"
  password=$("$1" --socket "$2" -c "crypto pki server ca password generate" |
    sed -n 's/.*password: \([^ ]*\).*/\1/p')
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$4/client.key" \
    -subj "/CN=$5" -outform DER 2>/dev/null | base64 -w0 >"$4/client.b64"
  curl -fsS --cacert "$4/ca.pem" -u "bench:$password" -H "Content-Type: application/pkcs10" \
    --data-binary "@$4/client.b64" "https://127.0.0.1:$3/.well-known/est/simpleenroll" |
    base64 -d | openssl pkcs7 -inform DER -print_certs -out "$4/client.pem"
}
