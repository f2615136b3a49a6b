#!/usr/bin/env bash
# Where the threads run, at c=1: scepterd's enrolment rate with the kernel placing every
# thread (free), with scepterd on CPU 0 and scep_load on CPU 1 (apart), and the same with
# the SQLite commit thread moved to CPU 1 beside the idle client (commit-apart). A measuring
# aid, not a setting: scepterd itself pins nothing. Needs root (taskset on other processes)
# and two CPUs or more.
#
#   bench/run_placement_bench.sh [BUILD_DIR]     # N (default 2000), ROUNDS (3), KEYS, PORT
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
build=$(realpath "${1:-build-bench}")
n=${N:-2000}
rounds=${ROUNDS:-3}
port=${PORT:-18090}
keys=${KEYS:-/tmp/ab-keys.pem}
[ "$(nproc)" -ge 2 ] || { echo "needs two CPUs" >&2; exit 1; }
bench_workdir placement

# The commit thread is the one that has written most (SQLite's WAL pwrites and fdatasync).
commit_thread() {
  local t w best="" max=-1
  for t in /proc/"$1"/task/*; do
    w=$(awk '/^syscw/ { print $2 }' "$t/io")
    if [ "$w" -gt "$max" ]; then max=$w; best=${t##*/}; fi
  done
  echo "$best"
}

run() {  # run MODE: one row, "MODE rate=..."
  local mode=$1 dir t client=()
  dir=$(mktemp -d "$work/r.XXXX")
  start_scepterd "$build" "$dir" -10
  setup_ca "$build/src/shell/scepter" "$dir/s.sock" "$port" "$dir/setup.txt"
  sleep 1.5
  # Warm up: the commit thread starts with the first overlapped write.
  nice -n -10 "$build/bench/scep_load" --port "$port" --n 50 --c 1 --keys "$keys" \
    --tag "warm-$RANDOM" >/dev/null
  if [ "$mode" != free ]; then
    for t in /proc/"$pid"/task/*; do taskset -p -c 0 "${t##*/}" >/dev/null; done
    [ "$mode" = commit-apart ] && taskset -p -c 1 "$(commit_thread "$pid")" >/dev/null
    client=(taskset -c 1)
  fi
  echo "$mode $(nice -n -10 "${client[@]}" "$build/bench/scep_load" --port "$port" --n "$n" --c 1 \
    --keys "$keys" --tag "$mode-$RANDOM" | grep RESULT | grep -oE '(rate|failure)=[0-9.]+' | xargs)"
  stop_pids "$pid"
  pid=""
  rm -rf "$dir"
}

echo "load average before: $(loadavg)"
for _ in $(seq 1 "$rounds"); do
  for mode in free apart commit-apart; do run "$mode"; done
done
echo "load average after: $(loadavg)"
