#!/usr/bin/env bash
# Where an enrolment's instructions go: scepterd under `valgrind --tool=callgrind`, one
# RSA-2048 CA "ca" in grant auto, N PKCSReq messages at c=1 (scep_load, every reply
# checked). Instrumentation is switched on only for the enrolments (not start-up, not the
# CA key generation), so the totals divided by N are instructions per enrolment.
#
#   bench/profile_scep.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-bench (Release with debug info is better for reading the
# profile: -DCMAKE_BUILD_TYPE=RelWithDebInfo). N (default 200), PORT (default 18095),
# KEYS (as in run_scep_bench.sh), OUT (where callgrind.out is kept, default a temporary
# directory that is removed). Prints instructions per enrolment in total, by step
# (inclusive counts of the functions below), and how many public-key decodes
# (OSSL_DECODER_CTX_new_for_pkey) and certificate/request parses each enrolment makes.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-bench}
n=${N:-200}
port=${PORT:-18095}
case $build in /*) ;; *) build=$root/$build ;; esac
ninja -C "$build" -j2 scepterd scepter scep_load >/dev/null
keys=${KEYS:-$build/bench/scep_load_keys.pem}
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind" >&2; exit 1; }

bench_workdir scep_profile
out=${OUT:-$work}
mkdir -p "$out"

mkdir -p "$work/nvram"
SCEPTER_PASSWORD=bench-master valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$out/callgrind.out" "$build/src/daemon/scepterd" \
  --nvram "$work/nvram" --socket "$work/s.sock" --log "$work/scepterd.log" \
  2>"$work/valgrind.log" &
pid=$!
wait_socket "$work/s.sock" 600
setup_ca "$build/src/shell/scepter" "$work/s.sock" "$port" "$work/setup.txt" 600
sleep 3  # one more `ip http` period, under valgrind

# Warm up (first-use initialisation of OpenSSL's providers is not an enrolment's cost).
"$build/bench/scep_load" --keys "$keys" --n 5 --port "$port" --c 1 --tag warm >/dev/null
callgrind_control -i on "$pid" >/dev/null
"$build/bench/scep_load" --keys "$keys" --n "$n" --port "$port" --c 1 --tag prof |
  tee "$work/load.txt" | grep RESULT
callgrind_control -i off "$pid" >/dev/null
callgrind_control -d "$pid" >/dev/null
if [ "$(field success "$work/load.txt")" != "$n" ]; then
  echo "not every enrolment succeeded" >&2
  exit 1
fi
stop_pids "$pid"
pid=""

prof=$out/callgrind.out.1  # the dump taken after the enrolments
callgrind_annotate --inclusive=yes --threshold=100 "$prof" >"$work/incl.txt"
total=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$work/incl.txt" | tr -d ,)
echo
echo "== callgrind, c=1, N=$n: $((total / n)) instructions per enrolment (all threads)"
# inclusive FUNCTION: instructions per enrolment spent in FUNCTION and what it calls
inclusive() {
  local v
  v=$(grep -F ":$1" "$work/incl.txt" | head -1 | awk '{ gsub(",", "", $1); print $1 }')
  echo "${v:-0}"
}
printf '%-58s %12s %6s\n' step "instr/enrol" share
for f in \
  'scepter::scep::PendingPkiMessage::parse(' \
  'scepter::scep::PendingPkiMessage::open(' \
  'scepter::ca::CertificateServer::scep_enroll(scepter::pki::Csr const&' \
  'scepter::ca::CertificateServer::decide_and_record(' \
  'scepter::pki::issue_certificate(' \
  'scepter::scep::encode_cert_rep' \
  'scepter::pki::Csr::parse(' \
  'scepter::pki::Certificate::from_der(' \
  'BN_mod_exp_mont_consttime ' \
  'OSSL_DECODER_CTX_new_for_pkey ' \
  'sqlite3_step ' ; do
  v=$(inclusive "$f")
  printf '%-58s %12d %5d%%\n' "$f" $((v / n)) $((100 * v / total))
done
echo
echo "== calls per enrolment"
callgrind_annotate --tree=caller --threshold=100 "$prof" >"$work/tree.txt"
calls() {  # calls FUNCTION: how often FUNCTION was called (its callers' counts), per run
  awk -v f="$1" '
    /^$/ { sum = 0; next }
    /^ *[0-9,]+ \( *[0-9.]+%\)  < / && match($0, /\(([0-9,]+)x\)/) {
      v = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", v); sum += v; next
    }
    /^ *[0-9,]+ \( *[0-9.]+%\)  \*  / && index($0, ":" f) { total += sum }
    END { print total + 0 }' "$work/tree.txt"
}

for f in OSSL_DECODER_CTX_new_for_pkey "d2i_X509 " "d2i_X509_REQ " "RSA_sign " "EVP_PKEY_decrypt "; do
  c=$(calls "$f")
  echo "$f: $c calls, $(awk -v c="$c" -v n="$n" 'BEGIN { printf "%.1f", c / n }') per enrolment"
done
