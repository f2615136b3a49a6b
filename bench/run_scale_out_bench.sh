#!/usr/bin/env bash
# Enrolments/s of one CA served three ways, alternating row by row in each round:
#   sqlite1  one scepterd, the embedded SQLite database (the default)
#   pg1      one scepterd, the main database on PostgreSQL
#   pg2      two scepterd nodes on that PostgreSQL database, behind nginx (round robin)
# RSA-2048 CA and requests, POST, every reply verified by scep_load; a fresh CA (and a fresh
# PostgreSQL database) per row. Where the time goes: CPU ms per enrolment of the scepterd
# processes and of the PostgreSQL server processes, and the machine's busy share.
#
#   PG_URL=postgresql://scepter:scepter-test@127.0.0.1:5432/scepter_test \
#     N=2000 C="1 16" ROUNDS=3 bench/run_scale_out_bench.sh build-bench
#
# MODES: the rows to run (default "sqlite1 pg1 pg2").
# PIN=1: scepterd on CPU 0, PostgreSQL and scep_load on CPU 1 (root; taskset), as when the
# database server has cores of its own: whether the database limits one node. Run it
# with MODES="sqlite1 pg1" (two nodes would share one core).
#
# PG_URL: a role that may create databases (each row's database is dropped after it).
# KEYS: the requester keys (default /tmp/ab-keys.pem; scep_load makes what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
n=${N:-2000}
cs=${C:-1 16}
rounds=${ROUNDS:-3}
modes=${MODES:-sqlite1 pg1 pg2}
pin_server=()
pin_client=()
if [ "${PIN:-0}" = 1 ]; then
  pin_server=(taskset -c 0)
  pin_client=(taskset -c 1)
fi
keys=${KEYS:-/tmp/ab-keys.pem}
pg_url=${PG_URL:?a PostgreSQL URL of a role that may create databases}
port_a=18191
port_b=18192
port_lb=18190
pids=()
dir=""
db=""
cleanup() {
  stop_pids "${pids[@]}"
  pids=()
  [ -z "$db" ] || psql "$pg_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  db=""
  [ -z "$dir" ] || rm -rf "$dir"
  dir=""
}
trap cleanup EXIT

# PostgreSQL's processes on CPU 1 (new backends inherit the postmaster's), and back.
pin_postgres() {
  [ ${#pin_client[@]} -gt 0 ] || return 0
  for p in $(pgrep -u postgres -x postgres); do taskset -a -p -c "$1" "$p" >/dev/null; done
}

# CPU ticks (user + system) of the processes named, summed.
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done |
  awk '{ s += $1 } END { print s + 0 }'; }
postgres_pids() { pgrep -u postgres -x postgres || true; }

# node NAME PORT [LINES...]: a scepterd in $dir/NAME with HTTP on 127.0.0.1:PORT; its
# certificate server "ca" is configured with LINES and enabled.
node() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$dir/$name/nvram"
  SCEPTER_PASSWORD=bench-master nice -n -10 "${pin_server[@]}" "$build/src/daemon/scepterd" \
    --nvram "$dir/$name/nvram" --socket "$dir/$name/s.sock" --log "$dir/$name/log" &
  pids+=($!)
  wait_socket "$dir/$name/s.sock"
  local args=(-c "configure terminal" -c "ip http server" -c "ip http port $port"
    -c "ip http bind-address 127.0.0.1")
  for line in "$@"; do args+=(-c "$line"); done
  "$build/src/shell/scepter" --socket "$dir/$name/s.sock" "${args[@]}" -c end \
    >"$dir/$name/setup.txt"
  for _ in $(seq 1 100); do
    ss -Hltn "sport = :$port" | grep -q "127.0.0.1:$port" && return 0
    sleep 0.1
  done
  echo "node $name: not listening" >&2
  cat "$dir/$name/setup.txt" >&2
  return 1
}

balancer() {
  mkdir -p "$dir/lb"
  cat >"$dir/lb/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/lb/nginx.pid;
error_log $dir/lb/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $dir/lb;
  proxy_temp_path $dir/lb;
  upstream scepter { server 127.0.0.1:$port_a; server 127.0.0.1:$port_b; keepalive 32; }
  server {
    listen 127.0.0.1:$port_lb;
    location / { proxy_pass http://scepter; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }
  }
}
EOF
  nice -n -10 /usr/sbin/nginx -p "$dir/lb" -c "$dir/lb/nginx.conf" -e "$dir/lb/error.log" &
  pids+=($!)
  for _ in $(seq 1 100); do
    ss -Hltn "sport = :$port_lb" | grep -q "127.0.0.1:$port_lb" && return 0
    sleep 0.1
  done
}

run() {  # run MODE C: one row
  local mode=$1 c=$2 url="" target=$port_a ca_lines out
  dir=$(mktemp -d /tmp/scale.XXXX)
  ca_lines=(-c "crypto pki server ca")
  local server=("crypto pki server ca" "grant auto" "database archive pkcs12 password 12345678")
  if [ "$mode" != sqlite1 ]; then
    db="bench_$RANDOM$RANDOM"
    psql "$pg_url" -q -c "CREATE DATABASE $db" >/dev/null
    url="${pg_url%%\?*}"
    url="${url%/*}/$db"
    server+=("database url ser $url")
  fi
  node a "$port_a" "${server[@]}" "no shutdown" "yes"
  local scepterd=("${pids[0]}")
  if [ "$mode" = pg2 ]; then
    cp "$dir/a/nvram/ca.p12" "$dir/b-ca.p12"
    mkdir -p "$dir/b/nvram"
    cp "$dir/b-ca.p12" "$dir/b/nvram/ca.p12"
    node b "$port_b" "crypto pki import ca pkcs12 nvram:ca.p12 12345678" "" \
      "crypto pki server ca" "grant auto" "database url ser $url" "no shutdown"
    scepterd+=("${pids[1]}")
    balancer
    target=$port_lb
  fi
  sleep 1.5  # one more `ip http` period
  local before_s before_p
  before_s=$(ticks "${scepterd[@]}")
  before_p=$(ticks $(postgres_pids))
  out=$(nice -n -10 "${pin_client[@]}" "$build/bench/scep_load" --port "$target" --label ca --n "$n" --c "$c" \
    --keys "$keys" --tag "$mode-$c-$RANDOM" | grep RESULT)
  local hz per_s per_p
  hz=$(getconf CLK_TCK)
  per_s=$(awk -v a="$before_s" -v b="$(ticks "${scepterd[@]}")" -v n="$n" -v hz="$hz" \
    'BEGIN { printf "%.2f", (b - a) * 1000 / hz / n }')
  per_p=$(awk -v a="$before_p" -v b="$(ticks $(postgres_pids))" -v n="$n" -v hz="$hz" \
    'BEGIN { printf "%.2f", (b - a) * 1000 / hz / n }')
  echo "$mode c=$c $(echo "$out" | grep -o 'rate=[0-9.]*') $(echo "$out" | grep -o 'p50_ms=[0-9.]*')" \
    "$(echo "$out" | grep -o 'failure=[0-9]*') $(echo "$out" | grep -o 'dup_serials=[0-9]*')" \
    "scepterd_cpu_ms=$per_s postgres_cpu_ms=$per_p" \
    "$(echo "$out" | grep -o 'machine_busy_pct=[0-9.]*')"
  cleanup
}

print_machine /tmp
echo "postgres: $(psql "$pg_url" -Atc 'SHOW server_version') synchronous_commit=$(psql "$pg_url" -Atc 'SHOW synchronous_commit')"
rsa_sign_rates
echo "openssl speed rsa2048: $sign_one sign/s on one core, $sign_all on $(nproc)"
for c in $cs; do echo "limit c=$c: $(enrol_limit "$c") enrolments/s"; done
if [ ${#pin_client[@]} -gt 0 ]; then
  pin_postgres 1
  trap 'cleanup; pin_postgres "0-$(($(nproc) - 1))"' EXIT
  echo "pinned: scepterd on CPU 0; PostgreSQL and scep_load on CPU 1"
fi
for _ in $(seq 1 "$rounds"); do
  for c in $cs; do
    for mode in $modes; do
      run "$mode" "$c"
    done
  done
done
