#!/usr/bin/env bash
# A/B benchmark of the cheap SCEP GETs: GetCACaps and GetCACert with 16 keep-alive
# connections, against scepterd built at several commits, alternately, ROUNDS rounds (default
# 3), a fresh CA per server, the same port. Prints one line per run: requests/s and p99 of
# `scep_load`, and the server's CPU per request (utime + stime of scepterd from
# /proc/PID/stat over the run, divided by the requests answered): the load generator
# shares the cores, and other work on the machine moves requests/s more than it moves the
# server's CPU per request. Usage:
#   bench/run_get_ab_bench.sh before=/tmp/scepter-before/build-bench after=build-bench
# Each argument is LABEL=BUILD_DIR (with src/daemon/scepterd and src/shell/scepter).
# SECONDS_GET: length of each run (default 5; a 1 s warm-up comes before it). PORT
# (default 18090). LOAD: the scep_load binary (default: the first build's). WRK=1 adds a
# `wrk -t2 -c16` run of each request after the scep_load ones.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
[ $# -ge 1 ] || { echo "usage: $0 LABEL=BUILD_DIR..." >&2; exit 2; }
rounds=${ROUNDS:-3}
secs=${SECONDS_GET:-5}
port=${PORT:-18090}
first=${1#*=}
load=${LOAD:-$first/bench/scep_load}
hz=$(getconf CLK_TCK)
bench_workdir get_ab

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
per_request() {  # per_request TICKS REQUESTS: CPU µs per request
  awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }'
}

echo "nproc $(nproc), load average $(loadavg)"
for round in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*}
    build=$(realpath "${spec#*=}")
    dir=$work/$label.$round
    mkdir -p "$dir/nvram"
    SCEPTER_PASSWORD=bench-master "$build/src/daemon/scepterd" --nvram "$dir/nvram" \
      --socket "$dir/s.sock" --log "$dir/scepterd.log" &
    pid=$!
    wait_socket "$dir/s.sock"
    setup_ca "$build/src/shell/scepter" "$dir/s.sock" "$port" "$dir/setup.txt"
    sleep 1.2  # scepterd applies `ip http ...` once a second: no restart inside a run
    for mode in getcacaps getcacert; do
      "$load" --port "$port" --mode "$mode" --c 16 --seconds 1 >/dev/null
      t0=$(cpu_ticks "$pid")
      "$load" --port "$port" --mode "$mode" --c 16 --seconds "$secs" >"$dir/$mode.out"
      t1=$(cpu_ticks "$pid")
      n=$(field requests "$dir/$mode.out")
      echo "round=$round server=$label mode=$mode rate=$(field rate "$dir/$mode.out")" \
        "failed=$(field failed "$dir/$mode.out") p99_ms=$(field p99_ms "$dir/$mode.out")" \
        "cpu_us_per_request=$(per_request $((t1 - t0)) "$n") load=$(loadavg | cut -d' ' -f1)"
    done
    if [ "${WRK:-0}" = 1 ]; then
      for op in GetCACaps GetCACert; do
        t0=$(cpu_ticks "$pid")
        wrk -t2 -c16 -d"${secs}s" \
          "http://127.0.0.1:$port/cgi-bin/pkiclient.exe?operation=$op&message=ca" >"$dir/wrk"
        t1=$(cpu_ticks "$pid")
        n=$(awk '/requests in/ { print $1 }' "$dir/wrk")
        echo "round=$round server=$label wrk=$op rate=$(awk '/Requests\/sec/ { print $2 }' "$dir/wrk")" \
          "non2xx=$(awk '/Non-2xx/ { print $5 }' "$dir/wrk")" \
          "cpu_us_per_request=$(per_request $((t1 - t0)) "$n")"
      done
    fi
    stop_pids "$pid"
    pid=""
  done
done
