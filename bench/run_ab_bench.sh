#!/usr/bin/env bash
# A/B enrolment benchmark: scepterd built at two commits (BEFORE and AFTER build dirs),
# alternately, the same keys, N enrolments at c=1 and c=16, ROUNDS rounds (default 2),
# a fresh CA per run, nice -10. Usage:
#   BEFORE=/tmp/scepter-before/build-bench AFTER=build-bench N=2000 bench/run_ab_bench.sh
# KEYS: the requester keys (scep_load makes and keeps them there; default
# /tmp/ab-keys.pem). PORT: scepterd's port on 127.0.0.1 (default 18090).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
n=${N:-2000}
rounds=${ROUNDS:-2}
port=${PORT:-18090}
keys=${KEYS:-/tmp/ab-keys.pem}
BEFORE=$(realpath "${BEFORE:?build dir of the older commit}")
AFTER=$(realpath "${AFTER:?build dir of the newer commit}")
pid=""
dir=""
cleanup() {
  stop_pids "$pid"
  [ -z "$dir" ] || rm -rf "$dir"
}
trap cleanup EXIT

run() {  # run BUILD TAG C: one row, printed as "TAG c=C rate=... p50_ms=... failure=..."
  local b=$1 tag=$2 c=$3 out
  dir=$(mktemp -d /tmp/ab.XXXX)
  start_scepterd "$b" "$dir" -10
  setup_ca "$b/src/shell/scepter" "$dir/s.sock" "$port" "$dir/setup.txt"
  sleep 1.5  # one more `ip http` period
  out=$(nice -n -10 "$b/bench/scep_load" --port "$port" --n "$n" --c "$c" --keys "$keys" \
    --tag "$tag-$c-$RANDOM" | grep RESULT)
  echo "$tag c=$c $(echo "$out" | grep -o 'rate=[0-9.]*') $(echo "$out" | grep -o 'p50_ms=[0-9.]*')" \
    "$(echo "$out" | grep -o 'failure=[0-9]*')"
  stop_pids "$pid"
  pid=""
  rm -rf "$dir"
  dir=""
}
for _ in $(seq 1 "$rounds"); do
  for c in 1 16; do
    run "$BEFORE" before "$c"
    run "$AFTER" after "$c"
  done
done
