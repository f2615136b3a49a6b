#!/usr/bin/env bash
# A/B enrolment benchmark: scepterd built at two commits (BEFORE and AFTER build dirs),
# alternately, the same keys, N enrolments at c=1 and c=16. Usage:
#   BEFORE=/tmp/scepter-before/build-bench AFTER=build-bench N=2000 bench/run_ab_bench.sh
set -euo pipefail
n=${N:-2000}
port=18090
keys=${KEYS:-/tmp/ab-keys.pem}
BEFORE=$(realpath "${BEFORE:?build dir of the older commit}")
AFTER=$(realpath "${AFTER:?build dir of the newer commit}")
run() {  # run BUILD TAG C
  local b=$1 tag=$2 c=$3 dir
  dir=$(mktemp -d /tmp/ab.XXXX)
  mkdir -p $dir/nvram
  SCEPTER_PASSWORD=bench-master nice -n -10 $b/src/daemon/scepterd --nvram $dir/nvram --socket $dir/s.sock --log $dir/log &
  local pid=$!
  for _ in $(seq 1 100); do [ -S $dir/s.sock ] && break; sleep 0.1; done
  $b/src/shell/scepter --socket $dir/s.sock -c "configure terminal" -c "ip http server" -c "ip http port $port" \
    -c "ip http bind-address 127.0.0.1" -c "crypto pki server ca" -c "grant auto" \
    -c "database archive pkcs12 password 12345678" -c "no shutdown" -c yes -c end > $dir/setup.txt
  for _ in $(seq 1 100); do ss -Hltn "sport = :$port" | grep -q "127.0.0.1:$port" && break; sleep 0.1; done
  sleep 1.5
  local out
  out=$(nice -n -10 $b/bench/scep_load --port $port --n $n --c $c --keys $keys --tag "$tag-$c-$RANDOM" | grep RESULT)
  echo "$tag c=$c $(echo "$out" | grep -o 'rate=[0-9.]*') $(echo "$out" | grep -o 'p50_ms=[0-9.]*') $(echo "$out" | grep -o 'failed=[0-9]*\|failure=[0-9]*' | head -1)"
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf $dir
}
for round in 1 2; do
  for c in 1 16; do
    run "$BEFORE" before $c
    run "$AFTER" after $c
  done
done
