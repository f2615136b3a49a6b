#!/usr/bin/env bash
# What malicious SCEP requests cost the server: the CPU time scepterd spends (utime +
# stime of the whole process, from /proc/PID/stat, before and after each batch) per
# request of each kind that bench/scep_attack sends, next to the same figure for an
# honest enrolment. The project's goal: no malicious request costs more than one honest
# enrolment.
#
#   bench/run_attack_bench.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-bench. The environment tunes it: N (requests per kind,
# default 200), N_BIG (requests of the multi-megabyte kinds, default 20), PORT (default
# 18092), KEYS (RSA-2048 requester keys, default BUILD_DIR/bench/scep_attack_keys.pem,
# generated once and kept), NICE (niceness of the server and the attacker, default 0).
#
# One scepterd with an empty NVRAM, one RSA-2048 CA "ca" under `grant auto`, listening on
# 127.0.0.1 only; every batch runs against it in turn, one request at a time on one
# keep-alive connection. scep_attack builds all messages of a batch before it sends the
# first; the server is idle meanwhile (its idle CPU over the run is printed). Requests
# that the policy grants by design under `grant auto` (renew-other-subject,
# ra-impersonation, the csr-* kinds other than CA:TRUE) are full enrolments. replay sends
# its original (an honest request) first, counted in its batch; squat-tid takes over the
# transactionID of an enrolment granted during setup. Honest enrolments run first and
# last; the ratios are to the mean of the two. Prints the machine, each batch's outcome
# and a Markdown table for docs/performance.md. Cleans up on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-bench}
n=${N:-200}
n_big=${N_BIG:-20}
port=${PORT:-18092}
nice_level=${NICE:-0}

case $build in /*) ;; *) build=$root/$build ;; esac
ninja -C "$build" -j2 scepterd scepter scep_attack >/dev/null
keys=${KEYS:-$build/bench/scep_attack_keys.pem}
scepterd_bin=$build/src/daemon/scepterd
scepter_bin=$build/src/shell/scepter
attack_bin=$build/bench/scep_attack
url="http://127.0.0.1:$port/cgi-bin/pkiclient.exe"
hz=$(getconf CLK_TCK)

bench_workdir attack_bench

# utime + stime of the server, in clock ticks (fields 14 and 15; the command name in
# field 2 has no spaces).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
outcomes() { sed -n 's/.* outcomes="\(.*\)"$/\1/p' "$1" | tail -1; }

echo "== machine"
print_machine "$work"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "load average before: $(loadavg)"

# ---- scepterd: empty NVRAM, CA "ca", grant auto, 127.0.0.1 ----
mkdir -p "$work/nvram"
SCEPTER_PASSWORD=bench-master nice -n "$nice_level" "$scepterd_bin" --nvram "$work/nvram" \
  --socket "$work/s.sock" --log "$work/scepterd.log" &
pid=$!
wait_socket "$work/s.sock"
# scepterd applies `ip http ...` once a second: wait for the final listener and one more
# period, so that no restart of it falls into a measurement.
setup_ca "$scepter_bin" "$work/s.sock" "$port" "$work/setup.txt"
sleep 1.2
for _ in $(seq 1 100); do
  curl -fsS -o "$work/ca.der" "$url?operation=GetCACert&message=ca" 2>/dev/null && break
  sleep 0.1
done
openssl x509 -inform DER -in "$work/ca.der" -out "$work/ca.pem"

attack() {  # attack OUT scep_attack-args...
  local out=$1
  shift
  nice -n "$nice_level" "$attack_bin" --url "$url" --ca "$work/ca.pem" --keys "$keys" \
    --quiet "$@" >"$out"
}

# ---- setup, not measured: requester keys, signers, a victim transactionID ----
echo
echo "== setup: $((n + 1)) requester keys in $keys, signer certificates, a victim"
attack "$work/warm.txt" --kind honest --count "$((n + 1))" --tag warm
mkdir -p "$work/signers"
"$attack_bin" --url "$url" --ca "$work/ca.pem" --keys "$keys" --kind honest \
  --subject "CN=bench-old" --out "$work/signers/old" --tag old >"$work/old.txt"
"$attack_bin" --url "$url" --ca "$work/ca.pem" --keys "$keys" --key-index 1 --kind honest \
  --subject "CN=ioscs radius" --out "$work/signers/ra" --tag ra >"$work/ra.txt"
victim_tid=$(sed -n 's/.* tid=\([^ ]*\).*/\1/p' "$work/old.txt" | head -1)
old=(--signer-cert "$work/signers/old/honest-0.pem" --signer-key "$work/signers/old/honest-0.key")
ra=(--signer-cert "$work/signers/ra/honest-0.pem" --signer-key "$work/signers/ra/honest-0.key")
if [ ! -s "$work/signers/old/honest-0.pem" ] || [ ! -s "$work/signers/ra/honest-0.pem" ]; then
  echo "setup enrolments failed:" >&2
  cat "$work/old.txt" "$work/ra.txt" >&2
  exit 1
fi
t0=$(cpu_ticks)
sleep 5
idle=$(($(cpu_ticks) - t0))
echo "server CPU while idle: $((idle * 1000 / hz)) ms over 5 s"

# ---- the batches ----
# Each: row label, then scep_attack arguments.
batches=(
  "honest|--kind honest --count $n"
  "renew-other-subject (granted under grant auto by design)|--kind renew-other-subject --count $n --subject CN=bench-victim ${old[*]}"
  "ra-impersonation, signer cn=ioscs radius (granted under grant auto by design)|--kind ra-impersonation --count $n ${ra[*]}"
  "csr-ca-true|--kind csr-ca-true --count $n"
  "csr-keycertsign|--kind csr-keycertsign --count $n"
  "csr-ocspsigning|--kind csr-ocspsigning --count $n"
  "csr-codesigning|--kind csr-codesigning --count $n"
  "csr-cdp|--kind csr-cdp --count $n"
  "many-recipients, 10,000 (about 3 MB)|--kind many-recipients --count $n_big"
  "many-recipients, 150 (149 others, then the CA)|--kind many-recipients --recipients 150 --count $n"
  "many-recipients-ca, 150 (all the CA)|--kind many-recipients-ca --count $n"
  "wrong-recipient|--kind wrong-recipient --count $n"
  "many-extensions, 100,000 (about 2 MB)|--kind many-extensions --count $n_big"
  "many-extensions, 2,000 (about 40 KB)|--kind many-extensions --extensions 2000 --count $n"
  "big-body (1 MiB of random bytes)|--kind big-body --count $n_big"
  "squat-tid (another key under a granted request's transactionID)|--kind squat-tid --tid $victim_tid --key-index 2 --count $n"
  "replay (1 original + N resends)|--kind replay --count $n"
  "garbage-after-decrypt|--kind garbage-after-decrypt --count $n"
  "honest (again, at the end)|--kind honest --count $n"
)

labels=()
counts=()
answers=()
costs=()
i=0
for batch in "${batches[@]}"; do
  label=${batch%%|*}
  read -r -a args <<<"${batch#*|}"
  out=$work/batch.$i.txt
  i=$((i + 1))
  before=$(cpu_ticks)
  attack "$out" "${args[@]}" --tag "b$i"
  after=$(cpu_ticks)
  requests=$(field requests "$out")
  ms=$(awk -v t="$((after - before))" -v hz="$hz" -v r="$requests" \
    'BEGIN { printf "%.2f", t * 1000 / hz / r }')
  echo "$label: $requests requests, server CPU $ms ms/request: $(outcomes "$out")"
  labels+=("$label")
  counts+=("$requests")
  answers+=("$(outcomes "$out")")
  costs+=("$ms")
done
# The reference: the mean of the honest batches (first and last), which also shows
# how much the figure moves between two identical batches.
honest_ms=$(for j in "${!labels[@]}"; do
  case ${labels[$j]} in honest*) echo "${costs[$j]}" ;; esac
done | awk '{ s += $1; n++ } END { printf "%.2f", s / n }')
rows=()
for j in "${!labels[@]}"; do
  ratio=$(awk -v a="${costs[$j]}" -v b="$honest_ms" 'BEGIN { printf "%.2f", a / b }')
  rows+=("| ${labels[$j]} | ${counts[$j]} | ${answers[$j]} | ${costs[$j]} | $ratio |")
done

echo
echo "load average after: $(loadavg)"
echo
echo "== server CPU per request (scepterd utime+stime; N=$n, $n_big for the multi-MB kinds;" \
  "RSA-2048 CA and requester keys, SHA-256, AES-128-CBC, grant auto)"
echo "honest enrolment (mean of the two honest batches): $honest_ms ms of server CPU"
echo "| kind | requests | answers | server CPU ms/request | ratio to honest |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
