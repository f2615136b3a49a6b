#!/usr/bin/env bash
# A CA with a million certificates, in SQLite: start-up, shell, GetCRL, enrolment and
# revocation on a CA with CERTS issued certificates (level names), REVOKED of them revoked
# and PENDING requests waiting, against an empty CA where a comparison makes sense.
#
#   bench/run_big_ca_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-bench (configured with -DCMAKE_BUILD_TYPE=Release). The
# environment tunes it: CERTS (default 1000000), REVOKED (100000), PENDING (10000), N
# (enrolments per enrolment row, 2000), C (their concurrency, 16), ROUNDS (enrolment
# rounds, big and empty CA alternating, 3), STARTS (timed restarts, 5), SHELL_RUNS (timed
# runs of each shell command, 20), REVOKES (certificates revoked one by one, 1000),
# SECONDS_GET (length of each GetCRL run, 5), PORT (18092), NGINX_PORT (18093), KEYS (the
# requester keys of scep_load, default BUILD_DIR/bench/scep_load_keys.pem, made on first
# use), NICE (niceness of scepterd, scep_load, wrk and nginx, default 0; a negative value
# such as -10 keeps builds that other people run on a shared machine from skewing the
# numbers).
#
# How the big CA is made: scepterd starts with a fresh NVRAM, and the shell creates and
# enables the CA the normal way (`crypto pki server ca`, `database level names`, `grant
# auto`, `database archive pkcs12 password ...`, `no shutdown`, `yes`, `write memory`:
# RSA-2048 key, SHA-256). One certificate is enrolled through SCEP (scep_load), scepterd
# stops, and bench/big_ca_fill.cpp fills the CA's database LABEL.ser through the Store
# interface, as scepterd writes it when it issues:
#   reproduced: CERTS certificate rows (serial, DER, subject, validity, request id),
#     REVOKED of them revoked (the serials that are multiples of CERTS/REVOKED), PENDING
#     pending requests as SCEP leaves them (distinct signed PKCS#10, transactionID,
#     signer certificate), the serial and request id counters past all of them, the .cnm
#     files of the newest 1024 certificates (scepterd checks the newest 256 at start-up).
#   not reproduced: each row's DER is the enrolled certificate re-encoded with the row's
#     serial, subject and validity, so its signature does not verify (nothing here
#     verifies stored certificates); the request rows of old grants (expired in a real
#     CA too); the .cnm files of older certificates (scepterd never reads them); a real
#     history of CRL numbers. The first start after the fill publishes the CRL of all
#     REVOKED entries (timed apart); the timed starts reuse it, as a restart does.
# The page cache is warm (nothing is dropped): start-ups are those of a restart.
#
# Measured: start-up (from exec to the first 200 of GetCACert, and to the first
# SUCCESS of a PKCSReq sent by scep_load once GetCACert answered); `show crypto pki server`
# and `crypto pki server ca info requests` through the shell, from the client (scepter
# process included; `show clock` gives that floor); RSS and peak RSS from /proc; GetCRL
# with keep-alive (scep_load --mode getcrl and wrk), and nginx sending the same bytes as
# a static file (the ceiling of this machine with the load generator on it; skipped
# without nginx); enrolment rate on the big CA and on an empty one, both served by a
# scepterd that loaded the CA from its startup-config (scep_load, c=C, N=N, alternating;
# the empty CA is also measured just after its creation, in the scepterd that made it);
# REVOKES revocations one by one through the shell (`crypto pki server ca revoke SERIAL`:
# each durable and a new CRL written), from the client; GetCRL while revocations run.
# scepterd listens on 127.0.0.1 only.
# Prints the machine and Markdown tables for docs/performance.md. Cleans up on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-bench}
certs=${CERTS:-1000000}
revoked=${REVOKED:-100000}
pending=${PENDING:-10000}
n=${N:-2000}
c=${C:-16}
rounds=${ROUNDS:-3}
starts=${STARTS:-5}
shell_runs=${SHELL_RUNS:-20}
revokes=${REVOKES:-1000}
get_seconds=${SECONDS_GET:-5}
port=${PORT:-18092}
nginx_port=${NGINX_PORT:-18093}
nice_level=${NICE:-0}

case $build in /*) ;; *) build=$root/$build ;; esac
ninja -C "$build" -j2 scepterd scepter scep_load big_ca_fill >/dev/null
keys=${KEYS:-$build/bench/scep_load_keys.pem}
scepterd_bin=$build/src/daemon/scepterd
scepter_bin=$build/src/shell/scepter
load=$build/bench/scep_load
fill=$build/bench/big_ca_fill
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/big_ca_bench.XXXXXX")
pid=""
nginx_pid=""
cleanup() {
  stop_pids "$pid" "$nginx_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url="http://127.0.0.1:$port/cgi-bin/pkiclient.exe"
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# launch DIR: scepterd on DIR/nvram (its startup-config, if any, enables the CA).
launch() {
  local dir=$1
  mkdir -p "$dir/nvram"
  SCEPTER_PASSWORD=bench-master nice -n "$nice_level" "$scepterd_bin" --nvram "$dir/nvram" --socket "$dir/s.sock" \
    --log "$dir/scepterd.log" &
  pid=$!
  sock=$dir/s.sock
}
stop() {
  stop_pids "$pid"
  pid=""
}
# until_serving: polls GetCACert until it answers 200 (no sleep: the poll is the clock).
until_serving() {
  for _ in $(seq 1 20000); do
    curl -fsS -o /dev/null "$url?operation=GetCACert&message=ca" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "scepterd died" >&2; exit 1; }
  done
  echo "scepterd does not serve GetCACert" >&2
  exit 1
}
sh_cmd() { "$scepter_bin" --socket "$sock" "$@"; }

# new_ca DIR: a fresh NVRAM with one enabled root CA "ca" at level names, saved.
new_ca() {
  local dir=$1
  launch "$dir"
  for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
  sh_cmd -c "configure terminal" -c "ip http server" -c "ip http port $port" \
    -c "ip http bind-address 127.0.0.1" -c "crypto pki server ca" -c "database level names" \
    -c "grant auto" -c "database archive pkcs12 password 12345678" -c "no shutdown" -c yes \
    -c end -c "write memory" >"$dir/setup.txt"
  until_serving
}

# enrol OUT TAG [N] [C]: scep_load enrolments against the running CA.
enrol() {
  nice -n "$nice_level" "$load" --keys "$keys" --port "$port" --n "${3:-$n}" --c "${4:-$c}" --tag "$2" \
    --challenge bench-challenge >"$1"
}

# stats V...: "median max" (integers or decimals) of the values.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s", m, v[NR] }'
}

# time_shell RUNS LINE: client-side milliseconds of `scepter -c LINE`, RUNS times; sets
# took (the list) and checks each run succeeded.
time_shell() {
  local runs=$1 line=$2 t0
  took=()
  for _ in $(seq 1 "$runs"); do
    t0=$(now_ns)
    sh_cmd -c "$line" >"$work/shell.out"
    took+=("$((($(now_ns) - t0) / 100000))")  # tenths of a millisecond
  done
}
tenths() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 10 }'; }

rss() {  # rss: "RSS peak" of scepterd in MB
  awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { printf "%.0f %.0f", r / 1024, h / 1024 }' \
    "/proc/$pid/status"
}

echo "== machine"
print_machine "$work"
echo "load average before: $(loadavg)"
echo "big CA: $certs certificates, $revoked revoked, $pending pending requests"

results=()
row() { results+=("| $1 | $2 | $3 | $4 |"); }

# ---- the big CA ----
big=$work/big
echo
echo "== making the big CA"
new_ca "$big"
enrol "$work/template.txt" template 1 1
grep -q "success=1 " "$work/template.txt" || { cat "$work/template.txt"; exit 1; }
stop
t0=$(now_ns)
"$fill" --db "$big/nvram/ca.ser" --cnm-dir "$big/nvram" --certs "$certs" --revoked "$revoked" \
  --pending "$pending"
echo "fill: $(ms_since "$t0") ms; database $(du -m "$big/nvram/ca.ser" | cut -f1) MB"

echo
echo "== first start after the fill (publishes the CRL of $revoked entries)"
t0=$(now_ns)
launch "$big"
until_serving
first_start=$(ms_since "$t0")
echo "first start: GetCACert 200 after $first_start ms; CRL $(stat -c %s "$big/nvram/ca.crl") bytes"
stop

echo
echo "== $starts timed starts"
start_get=()
start_enrol=()
start_req=()
for i in $(seq 1 "$starts"); do
  t0=$(now_ns)
  launch "$big"
  until_serving
  start_get+=("$(ms_since "$t0")")
  enrol "$work/start.$i.txt" "start$i" 1 1
  start_enrol+=("$(ms_since "$t0")")
  grep -q "success=1 " "$work/start.$i.txt" || { cat "$work/start.$i.txt"; exit 1; }
  start_req+=("$(field p50_ms "$work/start.$i.txt")")
  echo "start $i: GetCACert 200 at ${start_get[-1]} ms, first SUCCESS at ${start_enrol[-1]} ms" \
    "(the PKCSReq itself ${start_req[-1]} ms); RSS/peak MB $(rss)"
  [ "$i" = "$starts" ] || stop
done
read -r med mx <<<"$(stats "${start_get[@]}")"
row "start-up to the first GetCACert 200 (exec to answer; $starts restarts)" "$med" "$mx" "≤ 1000"
read -r med mx <<<"$(stats "${start_enrol[@]}")"
row "start-up to the first PKCSReq SUCCESS (exec to answer, scep_load start included)" \
  "$med" "$mx" "≤ 1000"
read -r rss_start peak_start <<<"$(rss)"

echo
echo "== shell"
time_shell "$shell_runs" "show clock"
read -r med mx <<<"$(stats "${took[@]}")"
row "\`scepter -c 'show clock'\` (the shell's floor)" "$(tenths "$med")" "$(tenths "$mx")" "-"
time_shell "$shell_runs" "show crypto pki server"
read -r med mx <<<"$(stats "${took[@]}")"
cat "$work/shell.out"
row "\`show crypto pki server\`" "$(tenths "$med")" "$(tenths "$mx")" "≤ 50"
time_shell "$shell_runs" "crypto pki server ca info requests"
read -r med mx <<<"$(stats "${took[@]}")"
echo "info requests: $(wc -l <"$work/shell.out") lines, $(grep -c ' pending ' "$work/shell.out") pending shown"
row "\`crypto pki server ca info requests\` ($pending pending; the first $(grep -c ' pending ' \
"$work/shell.out") shown)" "$(tenths "$med")" "$(tenths "$mx")" "≤ 50"

echo
echo "== GetCRL, 16 keep-alive connections, $get_seconds s each"
crl_bytes=$(curl -fsS "$url?operation=GetCRL&message=ca" | wc -c)
echo "CRL: $crl_bytes bytes"
nice -n "$nice_level" "$load" --port "$port" --mode getcrl --c 16 --seconds "$get_seconds" |
  tee "$work/getcrl.txt"
nice -n "$nice_level" wrk -t2 -c16 -d"${get_seconds}s" --latency "$url?operation=GetCRL&message=ca" | tee "$work/wrk.txt"
wrk_rate=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk.txt")
get_rows=("| GetCRL ($crl_bytes bytes), scep_load c=16 | $(field rate "$work/getcrl.txt") | \
$(field p50_ms "$work/getcrl.txt") | $(field p99_ms "$work/getcrl.txt") | \
$(field max_ms "$work/getcrl.txt") | $(field failed "$work/getcrl.txt") |")
get_rows+=("| GetCRL, wrk -t2 -c16 | $wrk_rate | - | - | - | \
$(awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }' "$work/wrk.txt") |")
if command -v nginx >/dev/null; then
  # The same bytes from nginx (one worker, sendfile), on the same cores as the load.
  mkdir -p "$work/nginx/www"
  cp "$big/nvram/ca.crl" "$work/nginx/www/ca.crl"
  cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nginx_port; root $work/nginx/www; }
}
EOF
  nice -n "$nice_level" nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  nginx_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/ca.crl" 2>/dev/null && break
    sleep 0.05
  done
  nice -n "$nice_level" "$load" --port "$nginx_port" --path /ca.crl --mode getcrl --c 16 \
    --seconds "$get_seconds" | tee "$work/getcrl.nginx.txt"
  stop_pids "$nginx_pid"
  nginx_pid=""
  get_rows+=("| the same bytes from nginx (static file, 1 worker), scep_load c=16 | \
$(field rate "$work/getcrl.nginx.txt") | $(field p50_ms "$work/getcrl.nginx.txt") | \
$(field p99_ms "$work/getcrl.nginx.txt") | $(field max_ms "$work/getcrl.nginx.txt") | \
$(field failed "$work/getcrl.nginx.txt") |")
fi

# revoke_run FROM COUNT OUT: revokes COUNT serials (FROM, FROM+step, ...) one by one and
# writes each one's client-side time (tenths of ms) to OUT. Serials are picked among the
# filled ones that are not revoked (the fill revokes every (certs/revoked)-th).
step=$(((certs - 2) / (revokes + 200)))
revoke_run() {
  local s=$1 count=$2 out=$3 t0
  : >"$out"
  for _ in $(seq 1 "$count"); do
    # big_ca_fill revokes the serials that are multiples of certs/revoked.
    if [ "$revoked" -gt 0 ] && [ $((s % (certs / revoked))) = 0 ]; then s=$((s + 1)); fi
    t0=$(now_ns)
    sh_cmd -c "crypto pki server ca revoke $s" >"$work/revoke.out"
    echo "$((($(now_ns) - t0) / 100000))" >>"$out"
    if [ -s "$work/revoke.out" ]; then cat "$work/revoke.out"; exit 1; fi
    s=$((s + step))
  done
  next_serial=$s
}

echo
echo "== $revokes revocations one by one"
revoke_run 5 "$revokes" "$work/revokes.txt"
mapfile -t rtimes <"$work/revokes.txt"
read -r med mx <<<"$(stats "${rtimes[@]}")"
p99=$(printf '%s\n' "${rtimes[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int(NR * 0.99)] }')
row "revoke one certificate (durable, new CRL of $revoked+ entries written; p99 $(tenths "$p99"))" \
  "$(tenths "$med")" "$(tenths "$mx")" "-"
echo "revocations: median $(tenths "$med") ms, p99 $(tenths "$p99") ms, worst $(tenths "$mx") ms"

echo
echo "== GetCRL during revocations (scep_load c=16 while 50 revocations run)"
nice -n "$nice_level" "$load" --port "$port" --mode getcrl --c 16 --seconds "$get_seconds" \
  >"$work/getcrl.rev.txt" &
load_pid=$!
sleep 0.5
revoke_run "$next_serial" 50 "$work/revokes.during.txt"
wait "$load_pid"
cat "$work/getcrl.rev.txt"
mapfile -t dtimes <"$work/revokes.during.txt"
read -r dmed dmx <<<"$(stats "${dtimes[@]}")"
get_rows+=("| GetCRL, scep_load c=16, while 50 revocations run (those: median $(tenths "$dmed") \
ms, worst $(tenths "$dmx") ms) | $(field rate "$work/getcrl.rev.txt") | \
$(field p50_ms "$work/getcrl.rev.txt") | $(field p99_ms "$work/getcrl.rev.txt") | \
$(field max_ms "$work/getcrl.rev.txt") | $(field failed "$work/getcrl.rev.txt") |")
read -r rss_now peak_now <<<"$(rss)"
stop

# ---- enrolment: the big CA and an empty one, alternating ----
enrol_rows=()
big_rates=()
empty_rates=()
fresh_rates=()
# enrol_row CA ROUND FILE: measures a row (enrol), then adds it to the table with scepterd's
# RSS.
enrol_row() {
  local f=$3 rss_e peak_e
  enrol "$f" "$(basename "$f" .txt)"
  read -r rss_e peak_e <<<"$(rss)"
  enrol_rows+=("| $1 | $2 | $(field rate "$f") | $(field p50_ms "$f") | $(field p99_ms "$f") | \
$(field success "$f") | $rss_e / $peak_e |")
}
for r in $(seq 1 "$rounds"); do
  launch "$big"
  until_serving
  sleep 1.2  # past the HTTP listener's first reconcile tick
  enrol_row "big, restarted" "$r" "$work/enrol.big.$r.txt"
  big_rates+=("$(field rate "$work/enrol.big.$r.txt")")
  stop
  new_ca "$work/empty.$r"
  sleep 1.2
  enrol_row "empty, in the scepterd that created it" "$r" "$work/enrol.fresh.$r.txt"
  fresh_rates+=("$(field rate "$work/enrol.fresh.$r.txt")")
  stop
  launch "$work/empty.$r"
  until_serving
  sleep 1.2
  enrol_row "empty, restarted" "$r" "$work/enrol.empty.$r.txt"
  empty_rates+=("$(field rate "$work/enrol.empty.$r.txt")")
  stop
done
big_med=$(median_range "${big_rates[@]}")
empty_med=$(median_range "${empty_rates[@]}")
ratio=$(awk -v b="${big_med%% *}" -v e="${empty_med%% *}" 'BEGIN { printf "%.0f%%", 100 * b / e }')
row "enrolments/s, c=$c, N=$n: big CA $big_med vs empty CA $empty_med, both restarted \
(median (range) of $rounds)" "$ratio of empty" "-" "≥ 90%"
row "enrolments/s of the empty CA in the scepterd that created it (no restart)" \
  "$(median_range "${fresh_rates[@]}")" "-" "-"
row "RSS of scepterd after start-up / after the GetCRL and revocation runs (MB; peak)" \
  "$rss_start / $rss_now" "$peak_start / $peak_now" "≤ 250"

echo
echo "load average after: $(loadavg)"
echo
echo "== results (ms unless stated)"
echo "| measurement | median | worst | target |"
echo "|---|---|---|---|"
printf '%s\n' "${results[@]}"
echo
echo "== GetCRL (requests/s; latency ms)"
echo "| run | requests/s | p50 | p99 | max | failed |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${get_rows[@]}"
echo
echo "== enrolments, POST, c=$c, N=$n (RSS after the row / peak, MB)"
echo "| CA | round | enrolments/s | p50 ms | p99 ms | SUCCESS | RSS / peak MB |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${enrol_rows[@]}"
