#!/usr/bin/env bash
# SCEP enrolments per second with the CA key in the process, with the CA key on a PKCS#11
# token (SoftHSM2), and with an EC CA (P-256) whose SCEP requests an RSA-2048 key opens
# (`scep encryption-key`), alternating row by row, each against its own crypto limit
# measured in the same run: `openssl speed -seconds 3 rsa2048` for the key in the process,
# bench/token_speed (signatures and PKCS#1 v1.5 decryptions per second with a key made on
# the token) for the token, `openssl speed` rsa2048 and ecdsap256 for the EC CA. An
# enrolment costs three private-key operations: the unwrap (a decryption) and two
# signatures (certificate, CertRep); the limit is one over their summed time, from one
# thread for c=1 and from all threads for c >= nproc. With the EC CA the RSA key unwraps
# and signs the CertRep, the EC key signs the certificate.
#
#   bench/run_token_bench.sh [BUILD_DIR]     # N (2000), CONCURRENCY ("1 16"), ROUNDS (3),
#                                            # KEYS, PORT, NICE (0)
#
# Every row starts from an empty CA and, for the token rows, a token made afresh with
# softhsm2-util in a directory of its own (SOFTHSM2_CONF). Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh
build=${1:-build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
n=${N:-2000}
read -r -a levels <<<"${CONCURRENCY:-1 16}"
rounds=${ROUNDS:-3}
port=${PORT:-18090}
nice_level=${NICE:-0}
module=/usr/lib/softhsm/libsofthsm2.so
[ -e "$module" ] || { echo "softhsm2 missing: apt-get install softhsm2" >&2; exit 1; }
ninja -C "$build" -j2 scepterd scepter scep_load token_speed >/dev/null
keys=${KEYS:-$build/bench/scep_load_keys.pem}
bench_workdir token_bench

export SOFTHSM2_CONF=$work/softhsm2.conf
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$work/tokens" >"$SOFTHSM2_CONF"
fresh_token() {
  rm -rf "$work/tokens"
  mkdir -p "$work/tokens"
  softhsm2-util --init-token --free --label bench-token --so-pin 5678 --pin 1234 >/dev/null
}

echo "== machine"
print_machine "$work"
echo "load average before: $(loadavg)"
echo
echo "== the limits"
rsa_sign_rates
fresh_token
token=$("$build/bench/token_speed" --module "$module" --label bench-token --pin 1234 \
  --threads "$(nproc)" | grep RESULT)
tok() { echo "$token" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
echo "openssl speed rsa2048: $sign_one sign/s on one core, $sign_all on all cores"
echo "SoftHSM2 (token_speed): $token"
# Enrolments per second the three operations allow: one decryption, two signatures.
per_enrolment() { awk -v d="$1" -v s="$2" 'BEGIN { printf "%.0f", 1 / (1 / d + 2 / s) }'; }
limit_process_1=$(awk -v s="$sign_one" 'BEGIN { printf "%.0f", s / 3 }')
limit_process_all=$(awk -v s="$sign_all" 'BEGIN { printf "%.0f", s / 3 }')
limit_token_1=$(per_enrolment "$(tok decrypt_1)" "$(tok sign_1)")
limit_token_all=$(per_enrolment "$(tok decrypt_all)" "$(tok sign_all)")
# The EC CA: an RSA decryption (as costly as an RSA signature) and the RSA-signed CertRep,
# one ECDSA signature (the certificate).
ec_one=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ { print $7 }')
ec_all=$(openssl speed -seconds 3 -multi "$(nproc)" ecdsap256 2>/dev/null |
  awk '/ecdsa \(nistp256\)/ { print $7 }')
echo "openssl speed ecdsap256: $ec_one sign/s on one core, $ec_all on all cores"
per_ec_enrolment() { awk -v r="$1" -v e="$2" 'BEGIN { printf "%.0f", 1 / (2 / r + 1 / e) }'; }
limit_ec_1=$(per_ec_enrolment "$sign_one" "$ec_one")
limit_ec_all=$(per_ec_enrolment "$sign_all" "$ec_all")

run_row() {  # run_row KIND C: sets row_rate
  local kind=$1 c=$2 dir out
  dir=$(mktemp -d "$work/row.XXXX")
  start_scepterd "$build" "$dir" "$nice_level"
  if [ "$kind" = token ]; then
    fresh_token
    "$build/src/shell/scepter" --socket "$dir/s.sock" -c "configure terminal" \
      -c "crypto pki token token0 module $module label bench-token user-pin 1234" \
      -c "crypto pki trustpoint ca" -c "on token0:" -c end >"$dir/token.txt"
  elif [ "$kind" = ec ]; then
    "$build/src/shell/scepter" --socket "$dir/s.sock" -c "configure terminal" \
      -c "crypto key generate ec keysize 256 label ca" -c "crypto pki server ca" \
      -c "scep encryption-key ca-scep" -c end >"$dir/ec.txt"
  fi
  setup_ca "$build/src/shell/scepter" "$dir/s.sock" "$port" "$dir/setup.txt"
  grep -q "Certificate Server enabled" "$dir/setup.txt" || { cat "$dir/setup.txt" >&2; exit 1; }
  if [ "$kind" = token ]; then
    grep -q "on-token" "$dir/setup.txt" || { cat "$dir/setup.txt" >&2; exit 1; }
  elif [ "$kind" = ec ]; then
    grep -q "SCEP encryption certificate issued" "$dir/setup.txt" || {
      cat "$dir/setup.txt" >&2
      exit 1
    }
  fi
  sleep 1.5
  out=$(nice -n "$nice_level" "$build/bench/scep_load" --port "$port" --n "$n" --c "$c" \
    --keys "$keys" --tag "$kind-$c-$RANDOM" | grep RESULT)
  echo "$kind c=$c $out"
  case "$out" in *" failure=0 "*" bad_replies=0 unverified=0 "*) ;;
    *) echo "row $kind c=$c had failures: $out" >&2; exit 1 ;; esac
  stop_pids "$pid"
  pid=""
  rm -rf "$dir"
  row_rate=$(echo "$out" | sed -n 's/.* rate=\([^ ]*\).*/\1/p')
}

declare -A rates
for r in $(seq 1 "$rounds"); do
  for c in "${levels[@]}"; do
    for kind in process token ec; do
      echo "== round $r, $kind, c=$c (load average $(loadavg))"
      run_row "$kind" "$c"
      rates[$kind,$c]+="$row_rate "
    done
  done
done
echo "load average after: $(loadavg)"
echo
echo "| CA key | concurrency | limit, enrolments/s | enrolments/s, median (range) | share |"
echo "|---|---|---|---|---|"
for c in "${levels[@]}"; do
  for kind in process token ec; do
    if [ "$kind" = process ]; then
      limit=$([ "$c" -ge "$(nproc)" ] && echo "$limit_process_all" || echo "$limit_process_1")
      name="in the process"
    elif [ "$kind" = ec ]; then
      limit=$([ "$c" -ge "$(nproc)" ] && echo "$limit_ec_all" || echo "$limit_ec_1")
      name="EC P-256, RSA-2048 decrypt key"
    else
      limit=$([ "$c" -ge "$(nproc)" ] && echo "$limit_token_all" || echo "$limit_token_1")
      name="on SoftHSM2"
    fi
    # shellcheck disable=SC2086
    mr=$(median_range ${rates[$kind,$c]})
    med=${mr%% *}
    share=$(awk -v m="$med" -v l="$limit" 'BEGIN { printf "%.0f%%", 100 * m / l }')
    echo "| $name | c=$c | $limit | $mr | $share |"
  done
done
